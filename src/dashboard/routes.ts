// GET /admin: the operator dashboard, static files served by this process (so it works the
// same behind any worker or instance). The page is plain ES modules in web/admin/ with no build
// step; uPlot is served from its npm package, never from a CDN, so the page works offline. The
// files are public; everything they show comes from the admin API with the operator's token.
import path from 'node:path'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { PROJECT_ROOT } from '../config.ts'

export const DASHBOARD_DIR = path.join(PROJECT_ROOT, 'web', 'admin')
const UPLOT_DIR = path.join(PROJECT_ROOT, 'node_modules', 'uplot', 'dist')
/** The only files of the uPlot package the page loads. */
const UPLOT_FILES = new Set(['/uPlot.esm.js', '/uPlot.min.css'])

export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  // decorateReply: false, since the docs UI registers @fastify/static too.
  await app.register(fastifyStatic, {
    root: DASHBOARD_DIR,
    prefix: '/admin/',
    decorateReply: false,
    index: ['index.html'],
    cacheControl: true,
    maxAge: 0,
  })
  // The page's relative links (style.css, app.js) need the trailing slash.
  app.get('/admin', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/admin/', 302))
  await app.register(fastifyStatic, {
    root: UPLOT_DIR,
    prefix: '/admin/vendor/uplot/',
    decorateReply: false,
    allowedPath: (pathName) => UPLOT_FILES.has(pathName),
    maxAge: 3_600_000,
  })
}
