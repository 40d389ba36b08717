// GET /admin's files: the page, its modules and uPlot from the npm package, and nothing else
// (no other file of the package, no path out of the folder). The page must keep working under
// a CSP that forbids inline scripts and styles, so its HTML has none and its code sets none.
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import Fastify, { type FastifyInstance } from 'fastify'
import { DASHBOARD_DIR, dashboardRoutes } from '../../src/dashboard/routes.ts'

describe('dashboard static files', () => {
  let app: FastifyInstance
  before(async () => {
    app = Fastify()
    await app.register(dashboardRoutes)
    await app.ready()
  })
  after(async () => {
    await app.close()
  })

  test('/admin redirects to the page; its files and uPlot are served with their types', async () => {
    const redirect = await app.inject({ method: 'GET', url: '/admin' })
    assert.equal(redirect.statusCode, 302)
    assert.equal(redirect.headers.location, '/admin/')
    for (const [url, type] of [
      ['/admin/', /^text\/html/], ['/admin/app.js', /javascript/], ['/admin/style.css', /^text\/css/],
      ['/admin/vendor/uplot/uPlot.esm.js', /javascript/], ['/admin/vendor/uplot/uPlot.min.css', /^text\/css/],
    ] as const) {
      const answer = await app.inject({ method: 'GET', url })
      assert.equal(answer.statusCode, 200, url)
      assert.match(String(answer.headers['content-type']), type, url)
    }
  })

  test('nothing else of the uPlot package, and no path out of the folder', async () => {
    for (const url of ['/admin/vendor/uplot/uPlot.cjs.js', '/admin/vendor/uplot/../package.json', '/admin/%2e%2e/package.json', '/admin/..%2f..%2fpackage.json', '/admin/vendor/uplot/%2e%2e/package.json']) {
      const answer = await app.inject({ method: 'GET', url })
      assert.ok([400, 403, 404].includes(answer.statusCode), `${url}: ${answer.statusCode}`)
      assert.doesNotMatch(answer.body, /"name": "(hk-school-finder|uplot)"/, url)
    }
  })

  test('no inline script or style anywhere in the page', async () => {
    const html = await readFile(path.join(DASHBOARD_DIR, 'index.html'), 'utf8')
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\bsrc=/, `inline script: ${tag}`)
    assert.doesNotMatch(html, /<style\b/, 'no <style> element')
    assert.doesNotMatch(html, /\sstyle=/, 'no style attribute')
    assert.doesNotMatch(html, /\son[a-z]+=/, 'no inline event handler')
    for (const file of (await readdir(DASHBOARD_DIR)).filter((name) => name.endsWith('.js'))) {
      const code = await readFile(path.join(DASHBOARD_DIR, file), 'utf8')
      assert.doesNotMatch(code, /innerHTML|outerHTML|insertAdjacentHTML|setAttribute\(\s*['"]style/, `${file} builds markup only with textContent`)
      assert.doesNotMatch(code, /https?:\/\//, `${file} loads nothing from another origin`)
    }
  })
})
