import cluster from 'node:cluster'
import { runWorker, startPrimary } from '../cluster.ts'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { exitOnSignals, startServer } from '../server.ts'

/** `schools serve [--workers N]`. Resolves only on a start-up failure; signals end the process. */
export async function serveCommand(config: Config, logger: Logger, workersFlag: string | undefined): Promise<number> {
  const workers = workersFlag === undefined ? config.workers : Number(workersFlag)
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    logger.error(`--workers must be an integer from 1 to 64, got '${workersFlag}'`)
    return 2
  }
  if (cluster.isWorker) {
    // Its own shutdown handling: see runWorker.
    await runWorker(config, logger, config.workerSlot)
  } else {
    // Signals are handled from the start: one that arrives while the process is still starting
    // waits for the start to finish and then stops it cleanly, instead of killing it half-started.
    const started: Promise<{ close(): Promise<void> }> = workers > 1 ? startPrimary(config, logger, workers) : startServer({ config, logger })
    exitOnSignals(async () => (await started).close(), logger)
    await started
  }
  return new Promise<number>(() => {})
}
