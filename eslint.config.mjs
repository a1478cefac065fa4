import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The lab is a test fixture: src/ never imports it (lab/, test/ and bench/ may import src/).
const NO_LAB = {
  regex: '^(\\.\\./)+lab(/|$)',
  message: 'src/ must not import the lab (a test fixture); lab/ has its own entry points',
};

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
    files: ['src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [NO_LAB] }],
      // import('../lab/...') too, which the rule above does not see.
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ImportExpression[source.value=/^(\\.\\.\\/)+lab(\\/|$)/]',
          message: NO_LAB.message,
        },
      ],
    },
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
                // (The lab is left to NO_LAB, which allows it not even as types.)
                '^(?!@temporalio/workflow$|\\./[^/]+$|\\./drills/[^/]+$|\\.\\./model/[^/]+$|\\.\\./temporal/search-attributes$|(\\.\\./)+lab(/|$))',
              allowTypeImports: true,
              message:
                'workflow code imports only @temporalio/workflow, ./*, ./drills/*, ../model/* and ../temporal/search-attributes (anything else as types)',
            },
            NO_LAB,
          ],
        },
      ],
    },
  },
  {
    // The drills, one file each, a level down: the same allowlist seen from there.
    files: ['src/workflows/drills/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex:
                '^(?!@temporalio/workflow$|\\./[^/]+$|\\.\\./[^/]+$|\\.\\./\\.\\./model/[^/]+$|\\.\\./\\.\\./temporal/search-attributes$|(\\.\\./)+lab(/|$))',
              allowTypeImports: true,
              message:
                'drill code imports only @temporalio/workflow, ./*, ../* (workflow files), ../../model/* and ../../temporal/search-attributes (anything else as types)',
            },
            NO_LAB,
          ],
        },
      ],
    },
  },
);
