import cluster from 'node:cluster'
import { startPrimary, startWorker } from '../cluster.ts'
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
    const server = await startWorker(config, logger, config.workerSlot)
    exitOnSignals(server.close, logger)
  } else if (workers > 1) {
    const primary = await startPrimary(config, logger, workers)
    exitOnSignals(primary.close, logger)
  } else {
    const server = await startServer({ config, logger })
    exitOnSignals(server.close, logger)
  }
  return new Promise<number>(() => {})
}
