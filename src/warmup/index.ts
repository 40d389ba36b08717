// The warmup engine: what it warms (targets.ts), how a run goes (runner.ts), where runs are
// recorded (history.ts) and what fires them (local-scheduler.ts, bullmq-scheduler.ts).
// It knows nothing about schools or about the cache: targets bring their own warm().
export { ALL_GROUPS, UnknownWarmupGroupError, WarmTargetRegistry, type WarmGroupDefinition, type WarmGroupInfo, type WarmKey, type WarmTarget } from './targets.ts'
export { WarmupClosedError, WarmupRunner, newRunId, type RunningWarmup, type StartedWarmup, type StartWarmupOptions, type WarmupRunnerOptions } from './runner.ts'
export type { WarmupKeyError, WarmupKeyProgress, WarmupKeyTiming, WarmupListener, WarmupPlan, WarmupProgress, WarmupRunRecord, WarmupRunStatus, WarmupStatus, WarmupSummary } from './summary.ts'
export { WarmupHistory, type WarmupRunStart } from './history.ts'
export { defaultInstanceId } from './instance-id.ts'
export { errorMessage, silentLogger, type WarmupLogger } from './logger.ts'
export {
  DEFAULT_TIME_ZONE, nextRunOf, validateJobs, validateTimeZone,
  type LastTick, type ScheduleJob, type ScheduledJobStatus, type SchedulerBackendName, type SchedulerCommonOptions, type SchedulerStatus, type SchedulerTick, type TickHandler, type WarmupScheduler,
} from './scheduler.ts'
export { loadInBatches } from './batches.ts'
export { LocalScheduler, type LocalSchedulerOptions } from './local-scheduler.ts'
export { BullmqScheduler, WarmupRunFailedError, type BullmqSchedulerOptions, type EnqueuedWarmup, type WarmupJobData, type WarmupJobResult } from './bullmq-scheduler.ts'
