import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  // The CLI and benchmarks talk to a terminal on purpose.
  { files: ['src/cli/**', 'bench/**', 'test/**', 'scripts/render-dashboard.ts'], rules: { 'no-console': 'off' } },
);
