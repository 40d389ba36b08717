// Lint runs as part of `npm test`; type-aware rules catch floating promises, the
// commonest bug in a cache/scheduler codebase.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'data', 'log', 'bench/results', 'coverage'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration through src/config.ts' }],
    },
  },
  { files: ['src/config.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**'], rules: { 'no-restricted-properties': 'off' } },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } } },
  // The dashboard page (web/admin/) runs in the browser.
  {
    files: ['web/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['document', 'window', 'sessionStorage', 'localStorage', 'fetch', 'setTimeout', 'clearTimeout', 'Intl', 'Node', 'ResizeObserver', 'console', 'URL'].map((name) => [name, 'readonly'])),
    },
  },
)
