"""compare_npy.py REF_DIR DIR NAME...: for each NAME, whether DIR/NAME.npy
equals REF_DIR/NAME.npy to 1e-5 relative (max |a - b| / max |b|); prints
"NAME: same" or "NAME: differs (rel err E)"."""
import sys

import numpy as np

ref, got = sys.argv[1], sys.argv[2]
for name in sys.argv[3:]:
    b = np.load("%s/%s.npy" % (ref, name)).astype(np.float64)
    a = np.load("%s/%s.npy" % (got, name)).astype(np.float64)
    if a.shape != b.shape:
        print("%s: differs (shape %s vs %s)" % (name, a.shape, b.shape))
        continue
    scale = max(np.abs(b).max(), 1e-30)
    err = np.abs(a - b).max() / scale
    print("%s: same" % name if err <= 1e-5 and np.abs(b).max() > 0
          else "%s: differs (rel err %.3g, max |ref| %.3g)" % (name, err, np.abs(b).max()))
