// Runs warmups: lists the keys of the requested groups, warms them with bounded
// concurrency, records every key's time and error, and reports one summary. One run at a
// time per process: a trigger that arrives during a run gets the running one back, so the
// 08:00 job, an admin click and a CLI call never warm the same keys twice in parallel.
import { InvalidParameterError, WarmupClosedError } from '../errors.ts'
import type { WarmupHistory } from './history.ts'
import type { WarmupRunKeys } from './run-keys.ts'
import { LoopPressure, planKeys, warmKeys, type KeyResult } from './key-pool.ts'
import { errorMessage, type WarmupLogger } from './logger.ts'
import { ActiveRun, type RunningWarmup } from './active-run.ts'
import { assertRunId, newRunId } from './run-tracker.ts'
import { finalStatus, type WarmupKeyError, type WarmupListener, type WarmupPlan, type WarmupSummary } from './summary.ts'
import type { WarmTargetRegistry } from './targets.ts'

export interface WarmupRunnerOptions {
  registry: WarmTargetRegistry
  logger: WarmupLogger
  /** Written on every history row; see defaultInstanceId. */
  instanceId: string
  /** Where runs are recorded. Without it runs are only logged and returned. */
  history?: Pick<WarmupHistory, 'recordStart' | 'recordFinish'>
  /** Keys warmed at once (config.warmupConcurrency). */
  concurrency?: number
  /** A warm() or keys() call that takes longer counts as failed, so one hung query cannot hold the run (and every later run) forever. */
  keyTimeoutMs?: number
  maxRecordedErrors?: number
  slowestKept?: number
  /** Where every key's result is kept (for `warmup --verbose` in another process); written before the run's final row. */
  keyLog?: Pick<WarmupRunKeys, 'record'>
  /** Called once per finished run, e.g. metrics.warmupRun(summary). */
  onRunFinished?: (summary: WarmupSummary) => void
  /** Expires every cached value (old values stay servable); the first step of a run started with clearFirst. */
  clear?: () => Promise<void>
  /**
   * Called once per run before its keys are listed (after a clear): e.g. learning the data
   * generation, so unchanged values are renewed instead of loaded (docs/generations.md). A
   * failure is reported in the run's errors; the run goes on.
   */
  prepare?: () => Promise<void>
  /** Yield to requests: fewer keys at once while the event loop is late (key-pool.ts). Default on. */
  pressure?: LoopPressure | false
}

export interface StartWarmupOptions {
  /** Group names or 'all'; undefined means 'all'. Validated before anything starts. */
  groups?: readonly string[]
  /** Who asked: 'schedule:<job>', 'cli', 'admin', 'boot', 'import', ... */
  trigger: string
  /** Lets a caller that enqueued the run elsewhere (BullMQ) choose its id up front. */
  runId?: string
  listener?: WarmupListener
  /** Run `clear` first, as part of the run (clear-and-warmup). A clearing request joins only a clearing run. */
  clearFirst?: boolean
}

/** A run in progress, as handed to callers of start() and current(). */
export interface StartedWarmup {
  run: RunningWarmup
  /** True when the request joined the run that was already going instead of starting one. */
  alreadyRunning: boolean
}


const TRIGGER = /^[A-Za-z0-9][\w:.@/-]{0,199}$/

export { newRunId, WarmupClosedError, type RunningWarmup }

export class WarmupRunner {
  readonly #options: Required<Pick<WarmupRunnerOptions, 'concurrency' | 'keyTimeoutMs' | 'maxRecordedErrors' | 'slowestKept'>> & WarmupRunnerOptions
  #current: ActiveRun | undefined
  /** The one run queued behind the current one, for requests the current one does not cover. */
  #followUp: ActiveRun | undefined
  #closed = false
  /** Told about every run of this runner (the dashboard's per-group progress). */
  readonly #everyRun = new Set<WarmupListener>()

  readonly #pressure: LoopPressure | undefined

  constructor(options: WarmupRunnerOptions) {
    this.#options = { concurrency: 4, keyTimeoutMs: 60_000, maxRecordedErrors: 100, slowestKept: 10, ...options }
    this.#pressure = options.pressure === false ? undefined : options.pressure ?? new LoopPressure()
    if (!Number.isInteger(this.#options.concurrency) || this.#options.concurrency < 1) throw new Error('warmup concurrency must be a positive integer')
  }

  get instanceId(): string {
    return this.#options.instanceId
  }

  /** Adds a listener to every run from now on, whoever started it; returns the unsubscribe. */
  listenAll(listener: WarmupListener): () => void {
    this.#everyRun.add(listener)
    return () => this.#everyRun.delete(listener)
  }

  /** The run going on now, if any. */
  current(): RunningWarmup | undefined {
    return this.#current
  }

  /**
   * Starts a run and returns at once (the run id is known synchronously), or hands back the
   * run already going. Throws UnknownWarmupGroupError / InvalidParameterError (HTTP 400) for a
   * bad request even while a run is going, so the caller hears about its mistake either way.
   */
  start(options: StartWarmupOptions): StartedWarmup {
    if (this.#closed) throw new WarmupClosedError()
    const groups = this.#options.registry.resolveGroups(options.groups)
    if (!TRIGGER.test(options.trigger)) throw new InvalidParameterError('trigger', `'${options.trigger}' is not a valid warmup trigger`)
    if (options.runId !== undefined) assertRunId(options.runId)
    const clearFirst = options.clearFirst === true

    const running = this.#current
    if (running) {
      // A request whose groups the running run covers joins it: the keys are being warmed now.
      // A clearing request joins only a run that clears: the running one may predate the change it is asked for.
      if (groups.every((group) => running.groups.includes(group)) && (!clearFirst || running.clearFirst)) {
        if (clearFirst && running.clearing) this.#clearAgain(running)
        if (options.listener) running.listen(options.listener)
        this.#options.logger.info({ runId: running.runId, trigger: options.trigger, runningTrigger: running.trigger, groups }, `warmup already running (run ${running.runId}); trigger ${options.trigger} joins it`)
        return { run: running, alreadyRunning: true }
      }
      // Otherwise its groups go into one follow-up run that starts when the current one ends:
      // runs never overlap, and no request is answered with a run that skipped its groups.
      return { run: this.#queueFollowUp(running, groups, options), alreadyRunning: true }
    }

    const run = new ActiveRun(options.runId ?? newRunId(), options.trigger, groups, this.#options.instanceId, Date.now())
    run.clearFirst = clearFirst
    if (options.listener) run.listen(options.listener)
    this.#launch(run)
    return { run, alreadyRunning: false }
  }

  #launch(run: ActiveRun): void {
    this.#current = run
    this.#options.logger.info({ runId: run.runId, trigger: run.trigger, groups: run.groups, instance: run.instance }, `warmup started: run ${run.runId} (${run.trigger}) groups ${run.groups.join(', ')}`)
    run.done = this.#execute(run).finally(() => {
      if (this.#current === run) this.#current = undefined
    })
  }

  #queueFollowUp(running: ActiveRun, groups: string[], options: StartWarmupOptions): ActiveRun {
    let followUp = this.#followUp
    if (!followUp) {
      const run = new ActiveRun(options.runId ?? newRunId(), options.trigger, [], this.#options.instanceId, Date.now())
      followUp = run
      this.#followUp = run
      run.done = running.done.then(() => {
        this.#followUp = undefined
        if (this.#closed) run.aborted = true
        run.markStarted(Date.now())
        this.#launch(run)
        return run.done
      })
    }
    // Keep the registry's group order whatever order requests came in.
    const merged = this.#options.registry.resolveGroups([...new Set([...followUp.groups, ...groups])])
    followUp.groups.splice(0, followUp.groups.length, ...merged)
    if (options.clearFirst) followUp.clearFirst = true
    if (options.listener) followUp.listen(options.listener)
    this.#options.logger.info({ runId: followUp.runId, runningRunId: running.runId, trigger: options.trigger, groups: followUp.groups }, `warmup queued: run ${followUp.runId} (groups ${followUp.groups.join(', ')}) starts when run ${running.runId} ends`)
    return followUp
  }

  /** Starts (or joins) a run and waits for it: the summary of whichever run covered the request. */
  async run(options: StartWarmupOptions): Promise<WarmupSummary> {
    return this.start(options).run.done
  }

  /**
   * For shutdown: refuses new runs, lets the current run finish the keys in flight but start
   * no more (it ends 'interrupted'), and waits for its final history row to be written.
   */
  async close(): Promise<void> {
    this.#closed = true
    const run = this.#current
    const followUp = this.#followUp
    if (run) {
      run.aborted = true
      await run.done
    }
    // A queued follow-up starts aborted (it ends 'interrupted' without warming) and is recorded.
    if (followUp) await followUp.done
  }

  async #execute(run: ActiveRun): Promise<WarmupSummary> {
    const { history, logger } = this.#options
    try {
      await history?.recordStart({ runId: run.runId, trigger: run.trigger, groups: run.groups, instance: run.instance, startedAt: run.startedAt })
    } catch (error) {
      // The warmup matters more than its bookkeeping: a database hiccup must not leave the cache cold.
      logger.warn({ runId: run.runId, err: error }, `warmup history: could not record the start of run ${run.runId}: ${errorMessage(error)}`)
    }

    let summary: WarmupSummary
    try {
      if (run.clearFirst && this.#options.clear && !run.aborted) {
        run.clearing = this.#clear(run)
        await run.clearing
      }
      await this.#warm(run)
      // An expiry asked for by a request that joined meanwhile is part of this run too.
      await run.clearing
      summary = this.#summarize(run)
    } catch (error) {
      // Only a bug gets here (keys and listeners are guarded); still report a run, never throw.
      logger.error({ runId: run.runId, err: error }, `warmup run ${run.runId} crashed: ${errorMessage(error)}`)
      this.#recordError(run, { key: '(run)', message: errorMessage(error), durationMs: 0 })
      run.counts.failed += 1
      summary = { ...this.#summarize(run), status: 'failed' }
    }

    try {
      await this.#options.keyLog?.record(run.runId, run.keyResults)
    } catch (error) {
      logger.warn({ runId: run.runId, err: error }, `warmup history: could not record the keys of run ${run.runId}: ${errorMessage(error)}`)
    }
    try {
      await history?.recordFinish(summary)
    } catch (error) {
      logger.warn({ runId: run.runId, err: error }, `warmup history: could not record the end of run ${run.runId}: ${errorMessage(error)}`)
    }
    const level = summary.status === 'succeeded' ? 'info' : 'warn'
    logger[level](
      { runId: summary.runId, trigger: summary.trigger, groups: summary.groups, status: summary.status, keys: summary.keys, warmed: summary.warmed, failed: summary.failed, durationMs: summary.durationMs },
      `warmup finished: run ${summary.runId} ${summary.status}, ${summary.warmed}/${summary.keys} keys warmed, ${summary.failed} failed in ${summary.durationMs} ms`,
    )
    try {
      this.#options.onRunFinished?.(summary)
    } catch (error) {
      logger.warn({ err: error }, `warmup onRunFinished callback failed: ${errorMessage(error)}`)
    }
    return summary
  }

  /** One more expiry after those already begun; requests arriving before it starts share it. */
  #clearAgain(run: ActiveRun): void {
    if (run.clearQueued) return
    run.clearQueued = true
    run.clearing = (run.clearing ?? Promise.resolve()).then(() => {
      run.clearQueued = false
      return this.#clear(run)
    })
  }

  /** A failed expiry is reported in the run's errors; the warmup still goes ahead. */
  async #clear(run: ActiveRun): Promise<void> {
    const started = performance.now()
    try {
      await this.#options.clear!()
      this.#options.logger.info({ runId: run.runId }, `warmup run ${run.runId}: cache expired before warming`)
    } catch (error) {
      this.#options.logger.warn({ runId: run.runId, err: error }, `warmup run ${run.runId}: expiring the cache failed: ${errorMessage(error)}`)
      this.#recordError(run, { key: '(clear)', message: errorMessage(error), durationMs: Math.round(performance.now() - started) })
    }
  }

  async #warm(run: ActiveRun): Promise<void> {
    const { registry, keyTimeoutMs, concurrency, logger, prepare } = this.#options
    if (prepare) {
      const started = performance.now()
      try {
        await prepare()
      } catch (error) {
        logger.warn({ runId: run.runId, err: error }, `warmup run ${run.runId}: preparing failed (every key is loaded): ${errorMessage(error)}`)
        this.#recordError(run, { key: '(prepare)', message: errorMessage(error), durationMs: Math.round(performance.now() - started) })
      }
    }
    const targets = registry.targetsFor(run.groups)
    const { keys, listingFailures, perTarget } = await planKeys(targets, keyTimeoutMs)
    run.counts.keys = keys.length + listingFailures.length
    for (const failure of listingFailures) {
      const key = `${failure.target} (keys)`
      logger.warn({ runId: run.runId, target: failure.target, error: failure.message }, `warmup target ${failure.target}: ${failure.message}`)
      this.#recordError(run, { key, message: failure.message, durationMs: Math.round(failure.durationMs) })
      run.keyResults.push({ key, group: targets.find((target) => target.name === failure.target)?.group ?? '', ok: false, durationMs: Math.round(failure.durationMs), error: failure.message })
      run.counts.failed += 1
      run.counts.completed += 1
    }
    const plan: WarmupPlan = {
      runId: run.runId,
      trigger: run.trigger,
      groups: run.groups,
      keys: run.counts.keys,
      targets: targets.map((target) => ({ name: target.name, group: target.group, keys: perTarget.get(target.name) ?? 0 })),
    }
    this.#notify(run, (listener) => listener.onPlan?.(plan))

    await warmKeys(keys, {
      concurrency,
      ...(this.#pressure ? { pressure: this.#pressure } : {}),
      timeoutMs: keyTimeoutMs,
      shouldStop: () => run.aborted,
      onResult: (result) => this.#onKeyResult(run, result),
    })
  }

  #onKeyResult(run: ActiveRun, result: KeyResult): void {
    const durationMs = Math.round(result.durationMs * 10) / 10
    run.counts.completed += 1
    run.timings.push({ key: result.planned.key, durationMs })
    run.keyResults.push({ key: result.planned.key, group: result.planned.group, ok: result.ok, durationMs, ...(result.error !== undefined ? { error: result.error } : {}) })
    if (result.ok) {
      run.counts.warmed += 1
      this.#options.logger.debug({ runId: run.runId, key: result.planned.key, durationMs }, 'warmup key warmed')
    } else {
      run.counts.failed += 1
      this.#recordError(run, { key: result.planned.key, message: result.error ?? 'failed', durationMs })
      this.#options.logger.warn({ runId: run.runId, key: result.planned.key, durationMs, error: result.error }, `warmup key ${result.planned.key} failed: ${result.error}`)
    }
    const progress = {
      runId: run.runId,
      key: result.planned.key,
      target: result.planned.target,
      group: result.planned.group,
      ok: result.ok,
      durationMs,
      ...(result.error !== undefined ? { error: result.error } : {}),
      completed: run.counts.completed,
      total: run.counts.keys,
    }
    this.#notify(run, (listener) => listener.onKey?.(progress))
  }

  #recordError(run: ActiveRun, error: WarmupKeyError): void {
    if (run.errors.length < this.#options.maxRecordedErrors) run.errors.push(error)
  }

  #notify(run: ActiveRun, call: (listener: WarmupListener) => void): void {
    for (const listener of [...run.listeners, ...this.#everyRun]) {
      try {
        call(listener)
      } catch (error) {
        this.#options.logger.warn({ runId: run.runId, err: error }, `warmup listener failed: ${errorMessage(error)}`)
      }
    }
  }

  #summarize(run: ActiveRun): WarmupSummary {
    const finishedMs = Date.now()
    const slowest = [...run.timings].sort((a, b) => b.durationMs - a.durationMs).slice(0, this.#options.slowestKept)
    return {
      runId: run.runId,
      trigger: run.trigger,
      groups: run.groups,
      instance: run.instance,
      status: finalStatus({ warmed: run.counts.warmed, failed: run.counts.failed, interrupted: run.aborted }),
      keys: run.counts.keys,
      warmed: run.counts.warmed,
      failed: run.counts.failed,
      durationMs: Math.max(0, finishedMs - run.startedMs),
      errors: [...run.errors],
      slowest,
      startedAt: run.startedAt,
      finishedAt: new Date(finishedMs).toISOString(),
    }
  }
}
