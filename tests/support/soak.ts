// `npm run test:soak` multiplies the size of the long-running checks (fuzz runs, concurrent writers);
// `npm test` runs them at the size that fits the CI budget.
export const soak = Math.max(1, Number(process.env.SOAK_FACTOR ?? 1));
