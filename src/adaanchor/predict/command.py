"""``adaanchor predict RUN SOURCE... [--out DIR] [--boxes FILE] [--format ...] [--save-video]``.

Output layout in ``--out`` (docs/predict.md): the image inputs together as ``predictions.{json,csv,slp,nwb}``
with one overlay PNG each in ``overlays/``; each video ``V.mp4`` as ``V.{json,csv,slp,nwb}`` and, with
``--save-video``, ``V_labeled.mp4``. Exit codes: 0 every input predicted, 3 some inputs skipped (the rest
predicted and written) or some instances non-finite (a diverged model: left out of the COCO results, missing
points in the other files), 2 error (nothing predicted).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError
from .boxes import Boxes, load_detections
from .image_ids import check_box_ids, image_ids, read_gt, results_category
from .images import check_orientation, orientation_notes
from .out_folder import earlier_outputs, make_folders
from .output_groups import OutputGroups, draw_frame
from .predictor import Predictor
from .sleap_writers import stored_frame_notes
from .sources import Skip, Source, count_frames, expand_sources
from .stop_signals import StopSignals
from .stream_inputs import frame_id, frame_inputs
from .write_common import NonFiniteCount
from .writers import parse_formats

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 2, 3
#: Stopped by SIGTERM (a scheduler's time limit) after closing the files: the shell's code for that signal.
EXIT_STOPPED = 128 + 15
EXIT_INTERRUPTED = 128 + 2  # Ctrl-C (SIGINT), as the shell reports a program it ended

def predict_command(run: str, sources: Sequence[str], out: str | Path = "predictions", boxes: str | None = None,
                    gt: str | None = None, formats: list[str] | None = None, save_video: bool = False,
                    overlays: bool = True, batch_size: int = 16, device: str = "auto", backend: str = "torch",
                    ckpt: str | None = None, overrides: Sequence[str] = (), progress: bool = True,
                    onnx_path: str | None = None, min_score: float = 0.0,
                    orientation: str = "displayed", precision: str = "fp32", box_category: Any = "auto",
                    category: int | None = None) -> dict[str, Any]:
    """Predict on every frame of ``sources`` and write the results (see the module docstring). Overlays and
    labelled videos draw the instances whose score is at least ``min_score`` (the files keep every one).
    ``orientation``: ``displayed`` turns images by their EXIF orientation and videos by their rotation, as a viewer
    shows them (keypoints in that frame); ``stored`` keeps the stored pixels. ``box_category``: the detections'
    categories used (:func:`adaanchor.predict.boxes.load_detections`); ``category``: the COCO results'
    ``category_id`` (default :func:`~adaanchor.predict.image_ids.results_category`).

    Returns ``frames``, ``instances``, ``seconds``, ``fps`` (both end to end), ``write_s`` (the part of ``seconds``
    spent closing the output files), ``files`` (written), ``skipped`` (list of :class:`Skip`), ``stopped`` (SIGTERM
    or a Ctrl-C arrived: the frame in hand was finished, or dropped by a second Ctrl-C, and the files closed,
    complete, with the frames predicted until then; ``stopped_by`` names it; :mod:`.stop_signals`), ``nonfinite``
    (instances with a NaN or infinite value), ``nonfinite_frames`` (frames whose model outputs held one: a
    multi-person run's maps), ``notes`` (lines for the summary) and ``exit_code``.

    Raises:
        AdaAnchorError: bad run, options or output folder, or no frame could be read at all.
    """
    fmts, out = _checked_options(formats, orientation, min_score, out)
    if box_category != "auto" and not boxes:  # it would be ignored
        raise AdaAnchorError("--box-category chooses among the --boxes detections; give --boxes too")
    notes: list[str] = []
    srcs, skipped = expand_sources(sources, notes)
    gt_data = read_gt(gt) if gt is not None else None  # read once: the image ids, then the results' category
    ids = image_ids([s for s in srcs if s.kind == "image"], gt, skipped.append, orientation, gt_data=gt_data)
    srcs = [s for s in srcs if s.kind == "video" or s.path in ids]
    if not srcs:  # before the model is loaded or a folder made
        runs = [s for s in sources if Path(s).is_dir() and (Path(s) / "config.yaml").is_file()]
        if runs:  # `predict imgs RUN`: "runs/mouse: folder holds no image or video file"
            raise AdaAnchorError(f"{runs[0]} is a run directory, not an input: the run goes first (adaanchor predict "
                                 f"RUN SOURCE ...), and {run} is given as the run")
        raise _nothing_to_predict(skipped)
    dets = load_detections(boxes, category=box_category, notes=notes) if boxes else None
    if dets is not None:
        check_box_ids(srcs, ids, dets, gt, boxes, notes)
    predictor = Predictor.from_run(run, device=device, backend=backend, ckpt=ckpt, overrides=overrides,
                                   batch_size=batch_size, onnx_path=onnx_path, orientation=orientation,
                                   precision=precision)
    for line in notes + _run_notes(predictor, run, dets, save_video, srcs, out):
        print(f"note: {line}", file=sys.stderr)  # after the refusals: a note about detections a refused run never reads
    made = make_folders(out, overlays and any(s.kind == "image" for s in srcs))
    max_inst = max((len(b.boxes) for b in dets.values()), default=1) if dets is not None else predictor.max_instances
    res = _run(predictor, srcs, out, fmts, dets, ids, max_inst, save_video, overlays, progress, skipped,
               float(min_score), results_category(category, dets, gt, gt_data))
    if res["frames"] == 0 and not res["stopped"]:
        for d in reversed(made):  # no frame could be read: leave no empty folder behind
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()
        raise _nothing_to_predict(skipped)
    res["skipped"] = skipped
    turned = res.pop("turned")
    res["notes"] = orientation_notes(turned, orientation) + stored_frame_notes(turned, fmts, orientation)
    stop_code = EXIT_INTERRUPTED if str(res.get("stopped_by", "")).startswith("Ctrl-C") else EXIT_STOPPED
    res["notes"] += res["nonfinite_notes"]
    res["exit_code"] = stop_code if res["stopped"] else EXIT_SKIPPED if skipped or res["nonfinite_notes"] else EXIT_OK
    return res


def _run_notes(predictor: Predictor, run: str, dets: Any, save_video: bool, srcs: list[Source], out: Path) -> list[str]:
    """What ``predict`` says of its options once the run is loaded (or refuses: ``--boxes`` for a multi-person run)."""
    if dets is not None and predictor.multi_person:
        raise AdaAnchorError(f"{run}: a multi-person run finds the people itself: --boxes is for top-down runs")
    notes = []
    if dets is None and not predictor.multi_person and predictor.info.get("crop") == "box":
        predictor.box_warning_said = True  # said here, as a note: not again as the Predictor's warning
        notes.append(f"{run} was trained on instance boxes (data.crop=box) and no --boxes were given: each image is "
                     "predicted as one instance, the whole image its box; give detections with --boxes for several "
                     "instances per image")
    if save_video and all(s.kind == "image" for s in srcs):  # it was ignored without a word
        notes.append("--save-video labels videos: no input is a video (the images get overlay PNGs)")
    return notes + earlier_outputs(out)


def _checked_options(formats: list[str] | None, orientation: str, min_score: float,
                     out: str | Path) -> tuple[list[str], Path]:
    """The output formats and folder, after refusing a bad option before anything is read."""
    fmts = parse_formats(formats)
    check_orientation(orientation)
    if not 0.0 <= float(min_score) <= 1.0:
        raise AdaAnchorError(f"--min-score must be in [0, 1], got {min_score}")
    if not str(out).strip():  # Path("") is ".": the files went into the working folder
        raise AdaAnchorError("--out is empty: give the output folder (default predictions)")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise AdaAnchorError(f"{path}: exists and is not a folder")
    return fmts, path


def _nothing_to_predict(skipped: list[Skip]) -> AdaAnchorError:
    why = "; ".join(str(s) for s in skipped[:3]) or "no input given"
    return AdaAnchorError(f"nothing to predict: {len(skipped)} input(s) skipped ({why})")


def _run(predictor: Predictor, srcs: list[Source], out: Path, fmts: list[str], dets: dict[int, Boxes] | None,
         ids: dict[Path, int], max_inst: int, save_video: bool, overlays: bool, progress: bool,
         skipped: list[Skip], min_score: float = 0.0, category_id: int = 1) -> dict[str, Any]:
    """Predict every frame of ``srcs`` and write it to its group's files (see :func:`predict_command`). Returns the
    counts, the files written, whether SIGTERM stopped it and the sources read turned (``turned``)."""
    from tqdm import tqdm

    groups = OutputGroups(out, fmts, predictor, max_inst, save_video, skipped, category_id)
    overlay_names: set[str] = set()
    turned: dict[str, str] = {}  # source -> its orientation (EXIF tag, video rotation)
    n_frames = n_inst = 0
    bad = NonFiniteCount()
    t0 = time.perf_counter()
    bar = tqdm(total=count_frames(srcs), unit="frame", disable=not progress, dynamic_ncols=True, desc="predict")
    stream = predictor.predict_stream(frame_inputs(predictor, srcs, dets, ids, skipped, turned))
    # SIGTERM and a first Ctrl-C only set a flag: the frame in hand is finished and the files are closed (.stop_signals).
    with StopSignals() as term:
        term.arm_ctrl_c()
        try:
            for frame, pred in term.interruptible(stream):
                g = groups.of(frame)
                g.write(frame, pred, frame_id(frame, ids))
                draw_frame(frame, pred, g, predictor, overlays, min_score, out, overlay_names)
                n_frames += 1
                n_inst += len(pred)
                bad.add(pred)
                bar.update(1)
                if term.requested:
                    break
        except KeyboardInterrupt:  # a second Ctrl-C: the frames being predicted are dropped
            if not term.dropped:
                raise
        finally:
            with term.closing():  # also on an interrupt or SIGTERM: what was predicted is kept, in complete files
                stream.close()  # the reading thread stopped here, not when the generator is collected
                bar.close()
                groups.close_all(term.requested)
    secs = time.perf_counter() - t0
    return {"frames": n_frames, "instances": n_inst, "seconds": secs, "fps": n_frames / secs if secs > 0 else 0.0,
            "files": groups.files, "overlays": len(overlay_names), "stopped": term.requested,
            "stopped_by": term.name, "turned": turned, "write_s": groups.write_s, "nonfinite": bad.instances,
            "nonfinite_frames": bad.frames, "nonfinite_notes": bad.notes(n_inst, n_frames)}


def format_summary(res: dict[str, Any], out: Path) -> str:
    """The lines printed at the end of ``adaanchor predict``."""
    # The files of a video are written when it ends: a .slp or .nwb file takes seconds, which a short video's
    # frames per second would otherwise be read as the model's speed.
    writing = res.get("write_s", 0.0)
    part = f"; {writing:.1f} s of it writing the files" if writing >= 0.1 * res["seconds"] and writing >= 0.1 else ""
    lines = [f"predicted {res['frames']} frame(s), {res['instances']} instance(s) in {res['seconds']:.1f} s "
             f"({res['fps']:.1f} frames/s{part})"]
    lines += [f"wrote {p}" for p in res["files"]]
    if res.get("overlays"):
        lines.append(f"wrote {res['overlays']} overlay image(s) in {out / 'overlays'}")
    if res.get("stopped"):
        lines.append(f"stopped by {res.get('stopped_by') or 'SIGTERM'} after {res['frames']} frame(s): the files above "
                     "hold the frames predicted until then")
    lines += [f"note: {n}" for n in res.get("notes", [])]
    if res["skipped"]:
        lines.append(f"skipped {len(res['skipped'])} input(s):")
        lines += [f"  {s}" for s in res["skipped"]]
    return "\n".join(lines)
