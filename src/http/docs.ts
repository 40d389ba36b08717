// OpenAPI document at /docs/json and its UI at /docs, generated from the route schemas.
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

export const docsPlugin = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Hong Kong School Finder API',
        version: '1.0.0',
        description: 'Primary and secondary schools from the Education Bureau open data, with the Primary School Profiles. Reads are served from cache.',
      },
      tags: [
        { name: 'schools', description: 'Public school data' },
        { name: 'scheduler', description: 'Cache warmup administration (bearer token)' },
        { name: 'operations', description: 'Health and metrics' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })
}, { name: 'docs' })
