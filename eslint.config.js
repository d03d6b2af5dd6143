// ESLint: the recommended rules of ESLint and typescript-eslint. Formatting is Prettier's job
// (.prettierrc): eslint-config-prettier, last, turns off every rule that would fight it.
'use strict';
const { defineConfig, globalIgnores } = require('eslint/config');
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier/flat');
const globals = require('globals');

/**
 * Unused on purpose: a leading underscore, as tsconfig's noUnusedParameters accepts, and the
 * properties left out of a copy by `const { a, ...rest } = obj`.
 */
const unusedVars = { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true };

module.exports = defineConfig([
  globalIgnores(['dist/', 'resources/', 'node_modules/', 'test-artifacts/', 'bench/.reference/', '.node-red-demo/', '.cache/']),

  // TypeScript sources: runtime (Node) and editor (browser).
  {
    files: ['src/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', unusedVars],
      // `const node = this;` is Node-RED's idiom (its core nodes and the editor's oneditprepare):
      // the node, named, for the callbacks inside. Any other alias of this is still an error.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node'] }],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/editor/**', 'src/nodes/*/editor.ts'],
    languageOptions: { globals: globals.node },
  },
  {
    // Runs in Node-RED's editor page: RED (declared in src/editor/globals.d.ts) and jQuery's $.
    files: ['src/editor/**/*.ts', 'src/nodes/*/editor.ts'],
    languageOptions: { globals: { ...globals.browser, ...globals.jquery, RED: 'readonly' } },
  },

  // Plain JavaScript: tests, build and demo scripts, benchmark (Node, CommonJS).
  {
    files: ['**/*.js'],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: {
      'no-unused-vars': ['error', unusedVars],
    },
  },
  // Tests: TypeScript run by tsx, type-checked by tsconfig.test.json.
  {
    files: ['test/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.node, ...globals.mocha } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', unusedVars],
      // mocha's `this` (this.timeout, this.skip) is why tests use `function`, and hooks alias nothing else.
      '@typescript-eslint/no-this-alias': 'error',
    },
  },
  {
    files: ['test/**/*.js'],
    languageOptions: { globals: globals.mocha },
  },
  {
    // The browser tests hand functions to page.evaluate / addInitScript, which run them in
    // Node-RED's editor page: there RED, $, document and window are globals.
    files: ['test/editor/**', 'test/newcomer/**', 'test/support/**'],
    languageOptions: { globals: { ...globals.browser, ...globals.jquery, RED: 'readonly' } },
  },

  prettier,
]);
