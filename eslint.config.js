// ESLint flat config: typescript-eslint's type-aware recommended rules for the app and tests.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'packages/*/dist/**',
      'packages/*/temp/**',
      'dist-bundle/**',
      'node_modules/**',
      '.lowkey/**',
      '.emulators/**',
      'coverage/**',
      '.venv-checkov/**',
      // The consumer apps compile with their own tsconfig against the packed package (npm run test:consumers).
      'examples/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      'no-console': ['error', { allow: ['warn', 'info', 'error'] }],
    },
  },
  {
    // The template reaches the package by its name (test/layering.test.ts also checks dynamic imports).
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/packages/**'], message: "Import the package by its name, 'functions-keyvault'." },
            {
              group: ['functions-keyvault/*', '!functions-keyvault/handlers'],
              message:
                'The app ships functions-keyvault and functions-keyvault/handlers only (functions-keyvault/testing is for tests).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      'no-console': 'off',
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['scripts/**'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
    languageOptions: { globals: { ...globals.node } },
  },
);
