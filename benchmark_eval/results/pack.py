"""A run folder as one file, for the trip from one host to another: `benchmark-eval pack RUN`.

A pack is a gzip'd tar holding `pack.json` (the format, the run folder's name, and the sha256 of
every file in it) and the files under `run/`: run.json, samples.jsonl, summary/ and configs/
(what compare and a reader need), and logs/ when asked. `compare` takes a pack where it takes a
run folder: it is unpacked into a temporary folder and every file checked against its sha256
first, so a truncated or altered pack is one line and exit 2, never a verdict.
"""

from __future__ import annotations

import atexit
import io
import json
import shutil
import tarfile
import tempfile
from pathlib import Path

from ..errors import UserError
from ..fileio import sha256_file
from ..paths import folder_safe
from .run_dir import LOGS, MANIFEST, SAMPLES, RunDir, free_folder

FORMAT = "benchmark-eval run pack"
SUFFIX = ".pack.tar.gz"
#: What a pack always holds (the first two must be there), and what --logs adds.
PARTS = (MANIFEST, SAMPLES, "summary", "configs")


def write_pack(run: Path, out: Path | None = None, logs: bool = False) -> tuple[Path, str]:
    """Pack the run folder `run` into `out`, a file (.tar.gz) or a folder (default: beside the run,
    <name>.pack.tar.gz); return the pack's path and its sha256."""
    if not (run / MANIFEST).is_file() or not (run / SAMPLES).is_file():
        raise UserError(f"{run} is not a finished run folder (no {MANIFEST} or {SAMPLES}); pack the folder a run printed")
    target = out or run.parent / f"{run.name}{SUFFIX}"
    if target.is_dir() or not target.name.endswith((".tar.gz", ".tgz")):  # a folder for the pack
        target.mkdir(parents=True, exist_ok=True)
        target = target / f"{run.name}{SUFFIX}"
    files = sorted(p for part in (*PARTS, *((LOGS,) if logs else ())) for p in ([run / part] if (run / part).is_file()
                   else sorted((run / part).rglob("*"))) if p.is_file() and not p.is_symlink())
    index = {str(p.relative_to(run)): sha256_file(p) for p in files}
    manifest = json.dumps({"format": FORMAT, "version": 1, "run": run.name, "files": index}, indent=2).encode()
    target.parent.mkdir(parents=True, exist_ok=True)  # --out packs/gpu.pack.tar.gz with no packs/ yet
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        info = tarfile.TarInfo("pack.json")
        info.size, info.mode = len(manifest), 0o644
        tar.addfile(info, io.BytesIO(manifest))
        for path in files:
            tar.add(path, arcname=f"run/{path.relative_to(run)}", recursive=False)
    partial.replace(target)  # nothing half-written under the pack's name
    return target, sha256_file(target)


def is_pack(path: Path) -> bool:
    return path.is_file() and path.name.endswith((SUFFIX, ".tar.gz", ".tgz"))


def unpack(pack: Path) -> Path:
    """The run folder a pack holds, unpacked into a temporary folder (removed when this process
    ends) and checked file by file; one line (UserError) for anything wrong with it."""
    damaged = f"{pack} is not an intact benchmark-eval pack"
    scratch = Path(tempfile.mkdtemp(prefix="benchmark-eval-pack-"))
    atexit.register(shutil.rmtree, scratch, True)
    try:
        with tarfile.open(pack, "r:gz") as tar:
            members = tar.getmembers()
            if not members or members[0].name != "pack.json":
                raise UserError(f"{damaged} (no pack.json first); make it again with benchmark-eval pack RUN")
            meta_file = tar.extractfile(members[0])
            meta = json.loads(meta_file.read()) if meta_file else {}
            if meta.get("format") != FORMAT or not isinstance(meta.get("files"), dict):
                raise UserError(f"{damaged} (its pack.json is not one); make it again with benchmark-eval pack RUN")
            folder = scratch / Path(str(meta.get("run") or "run")).name
            for member in members[1:]:
                name = member.name.removeprefix("run/")
                if not member.name.startswith("run/") or not member.isfile() or Path(name).is_absolute() or ".." in Path(name).parts:
                    raise UserError(f"{damaged} (unexpected entry {member.name!r}); make it again with benchmark-eval pack RUN")
                source = tar.extractfile(member)
                if source is None:
                    raise ValueError(f"{member.name} has no content")
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "wb") as f:
                    shutil.copyfileobj(source, f)
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise UserError(f"{damaged} ({type(error).__name__}: {error}; truncated or not a pack); copy it again, or make it "
                        "again with benchmark-eval pack RUN") from None
    expected: dict[str, str] = meta["files"]
    found = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()
    if found != set(expected):
        missing = sorted(set(expected) - found) or sorted(found - set(expected))
        raise UserError(f"{damaged} (files missing or extra: {', '.join(missing[:3])}); copy it again, or make it again with benchmark-eval pack RUN")
    for name, digest in expected.items():
        if sha256_file(folder / name) != digest:
            raise UserError(f"{damaged} ({name} does not match its checksum: altered or damaged); copy it again, or make it "
                            "again with benchmark-eval pack RUN")
    return folder


def unpack_into(pack: Path, results_root: Path) -> Path:
    """A pack made on another host as a run folder of this host's results, where a run of its
    model and kind would be: <results_root>/<model>/<kind>/<its name> (`_1`, ... when taken).
    Checked first (`unpack`); nothing is written under results_root for a damaged pack."""
    folder = unpack(pack)
    try:
        manifest = RunDir(folder).read_manifest()
    except (OSError, ValueError):  # ValidationError is a ValueError
        raise UserError(f"{pack} holds no readable {MANIFEST}; make it again with benchmark-eval pack RUN") from None
    kind = (manifest.settings or {}).get("benchmark_type") or (
        f"imported-{manifest.imported_from.tool}" if manifest.imported_from else "accuracy")
    target = free_folder(results_root.resolve() / folder_safe(manifest.model.abbr or manifest.model.name) / folder_safe(str(kind)), folder.name)
    partial = target.with_name(target.name + ".partial")
    shutil.copytree(folder, partial)
    partial.replace(target)  # nothing half-copied under the run's name
    return target
