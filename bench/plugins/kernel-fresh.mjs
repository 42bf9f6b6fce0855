/**
 * `hardNegativeMask` as a `hnm bench --impl` plug-in, a fresh result per call: with the built-in
 * `kernel` it shows what running in a worker thread costs (README, "Benchmark plug-ins"). Needs a
 * build (`npm run build`).
 */
import { hardNegativeMask } from '../../dist/src/mask.js';

export default (loss, cols, numNeg) => hardNegativeMask(loss, cols, numNeg);
