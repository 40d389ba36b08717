// Admin routes the `schools` CLI uses to act on the running server (bearer token): a warmup of
// any set of groups, the per-key results of a run, and the imports, whose files the CLI uploads.
// The server imports, invalidates and re-warms exactly as `schools import` does in-process.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { NotFoundError } from '../errors.ts'
import type { Runtime } from '../runtime.ts'
import type { SchoolSourceFiles } from '../schools/import/schools-import.ts'
import { bundledSourceFiles } from '../schools/import/schools-import.ts'
import { RUN_ID_PATTERN } from '../warmup/run-tracker.ts'
import { adminGuard } from './auth.ts'
import { answerWarmup, warmupBodySchema, type WarmupBody } from './warmup-requests.ts'

/** Largest upload: one request carries at most the three school files, base64-encoded (4/3 of their size). */
export const IMPORT_MAX_BODY_BYTES = 32 * 1024 * 1024

const errorResponse = { type: 'object', properties: { error: { type: 'string' }, message: { type: 'string' }, parameter: { type: 'string' } } }
const secured = { tags: ['scheduler'], security: [{ bearer: [] }] }
const common = { 400: errorResponse, 401: errorResponse, 413: errorResponse, 429: errorResponse }
const anyObject = { type: 'object', additionalProperties: true }

const uploadedFile = {
  type: 'object',
  required: ['fileName', 'contentBase64'],
  additionalProperties: false,
  properties: {
    // The name keeps its extension (the overlay format is read from it) and appears in error messages.
    fileName: { type: 'string', pattern: '^[\\w][\\w .()-]{0,119}$' },
    contentBase64: { type: 'string', maxLength: IMPORT_MAX_BODY_BYTES },
  },
}

interface UploadedFile {
  fileName: string
  contentBase64: string
}

/** Writes the uploads to a private temporary directory for the file-based importers, and removes it after. */
async function withUploads<T>(uploads: Record<string, UploadedFile | undefined>, use: (paths: Record<string, string>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'schools-upload-'))
  try {
    const paths: Record<string, string> = {}
    for (const [slot, upload] of Object.entries(uploads)) {
      if (!upload) continue
      const file = path.join(dir, slot, path.basename(upload.fileName))
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, Buffer.from(upload.contentBase64, 'base64'), { flag: 'wx', mode: 0o600 })
      paths[slot] = file
    }
    return await use(paths)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function operatorRoutes(app: FastifyInstance, options: { runtime: Runtime; token: string }): Promise<void> {
  const { runtime } = options
  const { logger } = runtime
  app.addHook('onRequest', adminGuard({ token: options.token }))

  // The CLI's warmup: POST /api/scheduler/warmup's implementation for a set of groups, never waited for.
  app.post<{ Body: WarmupBody }>('/api/admin/warmup', {
    schema: {
      ...secured,
      summary: 'Start a warmup of any groups (the CLI); answers 202 with the run id and the settings that apply',
      body: warmupBodySchema(runtime.registry, ['groups', 'clearFirst'], ['groups']),
      response: { 202: anyObject, ...common },
    },
  }, async (request, reply) => answerWarmup(runtime, reply, 'cli', { ...request.body, async: true }))

  app.get<{ Params: { id: string } }>('/api/scheduler/runs/:id/keys', {
    schema: {
      ...secured,
      summary: 'Every key of a finished run with its group, outcome and time (the newest runs only)',
      params: { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: RUN_ID_PATTERN } } },
      querystring: { type: 'object', additionalProperties: false, properties: {} },
      response: { 200: anyObject, 404: errorResponse, ...common },
    },
  }, async (request) => {
    const keys = await runtime.runKeys.get(request.params.id)
    if (!keys) throw new NotFoundError('Keys of warmup run', request.params.id)
    return { runId: request.params.id, keys }
  })

  app.post<{ Body: { schools?: UploadedFile; nets?: UploadedFile; profiles?: UploadedFile } }>('/api/admin/import/schools', {
    bodyLimit: IMPORT_MAX_BODY_BYTES,
    schema: {
      ...secured,
      summary: 'Import the school list, nets and profiles (each optional: the bundled file otherwise), then invalidate and re-warm',
      body: { type: 'object', additionalProperties: false, properties: { schools: uploadedFile, nets: uploadedFile, profiles: uploadedFile } },
      response: { 200: anyObject, ...common },
    },
  }, async (request) => {
    const body = request.body ?? {}
    return withUploads({ schools: body.schools, nets: body.nets, profiles: body.profiles }, async (paths) => {
      const files: SchoolSourceFiles = { ...bundledSourceFiles(runtime.config.sourceDir), ...paths }
      const summary = await runtime.importSchools(files)
      logger.info({ import: 'schools', unchanged: summary.unchanged, inserted: summary.inserted, updated: summary.updated, deleted: summary.deleted }, `import finished: schools (uploaded by the CLI), ${summary.changedSchoolNos.length} schools changed`)
      return summary
    })
  })

  for (const kind of ['banding', 'windows'] as const) {
    app.post<{ Body: { file: UploadedFile } }>(`/api/admin/import/${kind}`, {
      bodyLimit: IMPORT_MAX_BODY_BYTES,
      schema: {
        ...secured,
        summary: kind === 'banding' ? 'Import the secondary banding (CSV or JSON), then invalidate and re-warm' : 'Import application windows (CSV), then invalidate and re-warm',
        body: { type: 'object', additionalProperties: false, required: ['file'], properties: { file: uploadedFile } },
        response: { 200: anyObject, ...common },
      },
    }, async (request) => withUploads({ file: request.body.file }, async (paths) => {
      const summary = kind === 'banding' ? await runtime.importBanding(paths.file!) : await runtime.importApplicationWindows(paths.file!)
      logger.info({ import: kind, unchanged: summary.unchanged, entries: summary.entries, changed: summary.changedSchoolNos.length }, `import finished: ${kind} (uploaded by the CLI), ${summary.changedSchoolNos.length} schools changed`)
      return summary
    }))
  }
}
