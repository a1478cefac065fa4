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
    // Workflow code must stay deterministic: no Node built-ins or I/O libraries, and only
    // types from the effectful layers.
    files: ['src/workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'child_process', 'ssh2', 'etcd3', 'yaml'],
              message: 'workflow code must stay deterministic',
            },
            {
              group: [
                '../activities',
                '../activities/*',
                '../commands/*',
                '../config/*',
                '../ssh/*',
                '../etcd/*',
                '../util/*',
                '../cli/*',
              ],
              allowTypeImports: true,
              message: 'workflows import only types from the effectful layers',
            },
          ],
        },
      ],
    },
  },
);
