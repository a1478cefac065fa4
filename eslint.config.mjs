import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.data/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // A promise nobody awaits hides its failure (type-aware, so only on project code).
    files: ['src/**/*.ts', 'lab/**/*.ts', 'bench/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    // Workflow code must stay deterministic. An allowlist: the workflow SDK, other workflow
    // files, the pure model and the search attribute keys; anything else only as types.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(?!@temporalio/workflow$|\\./[^/]+$|\\.\\./model/[^/]+$|\\.\\./temporal/search-attributes$)',
              allowTypeImports: true,
              message:
                'workflow code imports only @temporalio/workflow, ./*, ../model/* and ../temporal/search-attributes (anything else as types)',
            },
          ],
        },
      ],
    },
  },
);
