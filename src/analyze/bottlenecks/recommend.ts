import type { Finding, ProcessShare, Recommendation } from './types.js';

const pct = (share: number) => `${Math.round(share * 100)} %`;

/** " (pid N[, extra])", or " (extra)" for processes known by name only. */
export function who(p: ProcessShare, extra?: string): string {
  const parts = [...(p.pid > 0 ? [`pid ${p.pid}`] : []), ...(extra ? [extra] : [])];
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function optimizeCall(resource: 'cpu' | 'memory' | 'io', p: ProcessShare) {
  const limits: Record<string, number> =
    resource === 'cpu'
      ? { cpu_percent: 50 }
      : resource === 'memory'
        ? { memory_mb: Math.max(64, Math.round((p.amount / 2 ** 20) * 0.8)) }
        : { io_weight: 50 };
  return {
    name: 'km_optimize_resources',
    arguments: {
      optimization_scope: 'specific',
      // Rolled-up history knows processes by name only (pid 0).
      target_id: p.pid > 0 ? String(p.pid) : p.command,
      target_resources: [resource],
      optimization_strategy: 'conservative',
      resource_limits: limits,
    },
  };
}

function forTopProcess(
  f: Finding,
  resource: 'cpu' | 'memory' | 'io',
  verb: string,
): Recommendation {
  const top = f.attribution.processes[0];
  if (!top) {
    return {
      finding_id: f.id,
      action: `No single process stands out; ${verb} across the workload or add capacity.`,
      target: null,
      tool_call: null,
    };
  }
  return {
    finding_id: f.id,
    action: `'${top.command}'${who(top)} used ${pct(top.share)} of the ${resource === 'io' ? 'disk I/O' : resource.toUpperCase() === 'CPU' ? 'CPU time' : 'memory in use'} in this window: ${verb}.`,
    target: `process:${top.command}`,
    tool_call: optimizeCall(resource, top),
  };
}

/** Concrete next steps, one or more per finding, each tied to it by finding_id. */
export function recommend(f: Finding): Recommendation[] {
  const family = f.id.split('.').slice(0, 2).join('.');
  // Automation names may contain dots (`kmpm run --name nightly.backup`): the name is the
  // rest of the id, less a waiting finding's trailing run id.
  const rest = f.id.slice(family.length + 1);
  const name = family === 'automation.waiting' ? rest.replace(/\.\d+$/, '') : rest;
  switch (family) {
    case 'cpu.utilization':
    case 'cpu.run_queue':
    case 'cpu.pressure':
    case 'cpu.concentration':
      return [
        forTopProcess(
          f,
          'cpu',
          'lower its priority, cap its CPU, or reschedule it to a quieter time',
        ),
      ];
    case 'cpu.single_core':
      return [
        forTopProcess(
          f,
          'cpu',
          'it is bound to one core; split or parallelise its work, or cap it so other work keeps a core',
        ),
      ];
    case 'cpu.steal':
      return [
        {
          finding_id: f.id,
          action:
            'The hypervisor is taking CPU from this machine: move to dedicated or less contended CPUs, or resize the instance.',
          target: null,
          tool_call: null,
        },
      ];
    case 'cpu.iowait':
    case 'io.utilization':
    case 'io.await':
    case 'io.queue':
    case 'io.pressure':
    case 'io.concentration':
      return [
        forTopProcess(
          f,
          'io',
          'lower its I/O priority or move its heavy reads and writes off the busiest disk',
        ),
      ];
    case 'memory.utilization':
    case 'memory.swapping':
    case 'memory.major_faults':
    case 'memory.pressure':
    case 'memory.oom_kills':
    case 'memory.concentration':
      return [
        forTopProcess(
          f,
          'memory',
          'restart it if it grows without bound, or cap its memory; otherwise add memory',
        ),
      ];
    case 'network.errors':
    case 'network.drops':
      return [
        {
          finding_id: f.id,
          action:
            'Check the interface for faulty cabling, duplex mismatch or driver errors (ip -s link), and the receive buffer sizes for drops.',
          target: null,
          tool_call: null,
        },
      ];
    case 'network.retransmits':
    case 'network.utilization':
      return [
        {
          finding_id: f.id,
          action:
            'The network path is congested or lossy: spread large transfers over time or rate-limit them.',
          target: null,
          tool_call: null,
        },
      ];
    case 'automation.failures':
      return [
        {
          finding_id: f.id,
          action: `Look at the failing runs of '${name}' (exit codes in automation_runs) and watch the next runs.`,
          target: `automation:${name}`,
          tool_call: {
            name: 'km_monitor_performance',
            arguments: {
              monitoring_scope: 'automation',
              target_id: name,
              metrics_types: ['execution_time', 'error_rate'],
              monitoring_duration: 60,
            },
          },
        },
      ];
    case 'automation.slow_runs':
    case 'automation.waiting': {
      const other = f.attribution.processes[0];
      return [
        {
          finding_id: f.id,
          action: other
            ? `'${name}' was slowed by '${other.command}'${who(other, `${pct(other.share)} of CPU while it ran`)}: schedule them apart or lower that process's priority.`
            : `Benchmark '${name}' to see how its run time varies.`,
          target: `automation:${name}`,
          tool_call: other
            ? optimizeCall('cpu', other)
            : {
                name: 'km_benchmark_automation',
                arguments: { benchmark_type: 'workflow', target_id: name },
              },
        },
      ];
    }
    default:
      return [];
  }
}
