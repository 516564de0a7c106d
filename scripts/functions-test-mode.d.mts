/** Types for scripts/functions-test-mode.mjs. */
export const TEST_MODE_NOTICE: RegExp;
