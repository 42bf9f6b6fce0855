/** As kernel-fresh.mjs, but writing into one reused output array. Needs a build (`npm run build`). */
import { hardNegativeMask } from '../../dist/src/mask.js';

let out = new Uint8Array(0);
export default (loss, cols, numNeg) => {
  if (out.length !== loss.length) out = new Uint8Array(loss.length);
  return hardNegativeMask(loss, cols, numNeg, { out });
};
