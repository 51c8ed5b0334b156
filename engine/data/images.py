"""Image decoding and the one preprocessing function shared by training, evaluation and upload (X1).

`preprocess(source, size)` takes a path, raw bytes or an array and returns the model input: an 8-bit
grayscale (size x size) image, made as MedMNIST made PneumoniaMNIST: to 8-bit grayscale, centre crop to
the short edge, resize. Formats: 8/16-bit grayscale, RGB, RGBA/LA, palette, CMYK, EXIF-rotated JPEG,
animated images (first frame, with a warning) and DICOM (MONOCHROME1/2, through pydicom). Anything that
cannot be used raises `ImageError` with a sentence that says what to do.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import ImageError, Message

Source = Union[str, os.PathLike, bytes, bytearray, np.ndarray]

MAX_PIXELS = 50_000_000  # ~7000 x 7000; larger is refused before decoding (decompression bombs)
MAX_BYTES = 64 * 1024 * 1024
MIN_SIDE = 8  # smaller images carry no usable detail
DISPLAY_SIDE = 512  # the preview kept for showing the steps


@dataclass(frozen=True)
class Preprocessed:
    """The model input plus what happened on the way (for the page's 'preprocessing steps')."""

    image: np.ndarray  # (size, size) uint8, the model input
    steps: tuple[tuple[str, np.ndarray], ...]  # (caption, uint8 preview image), in order
    warnings: tuple[str, ...]
    original_size: tuple[int, int]  # (width, height) as decoded
    original_mode: str


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Min-max stretch of any numeric array to 0..255 (used for >8-bit and float data)."""
    a = a.astype(np.float64)
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.zeros(a.shape, dtype=np.uint8)
    return np.round((a - lo) / (hi - lo) * 255.0).astype(np.uint8)


COLOUR_LIMIT = 5.0  # mean |channel - gray| on 0..255 above which an image is called a colour picture


def colourfulness(rgb: np.ndarray) -> float:
    """Mean absolute deviation of the channels from their mean (0 for a gray image saved as RGB)."""
    x = rgb[::4, ::4, :3].astype(np.float32)  # subsampled: enough for a mean
    return float(np.abs(x - x.mean(axis=-1, keepdims=True)).mean())


def _is_dicom(data: bytes) -> bool:
    return len(data) > 132 and data[128:132] == b"DICM"


def _decode_dicom(data: bytes) -> tuple[np.ndarray, str, list[str]]:
    """DICOM pixel data -> 8-bit grayscale; MONOCHROME1 is inverted so bone is bright."""
    import pydicom

    notes: list[str] = []
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        pixels = ds.pixel_array
    except Exception as e:  # pydicom raises many kinds for broken files
        raise ImageError(
            f"This DICOM file could not be read ({type(e).__name__}); export the X-ray as PNG or JPEG and upload that.",
            code="dicom_unreadable", kind=type(e).__name__,
        ) from e
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if pixels.ndim == 3 and photometric.startswith("MONOCHROME"):
        pixels = pixels[0]
        notes.append(Message("The DICOM holds several frames; the first one is used.", "dicom_frames"))
    if pixels.ndim == 3:  # RGB / YBR DICOM
        pixels = np.asarray(Image.fromarray(_to_uint8(pixels)).convert("L"))
    try:
        from pydicom.pixels import apply_voi_lut

        if "WindowCenter" in ds or "VOILUTSequence" in ds:
            pixels = apply_voi_lut(pixels, ds)
    except Exception:  # a broken window is not worth refusing the image
        pass
    gray = _to_uint8(pixels)
    if photometric == "MONOCHROME1":
        gray = 255 - gray
    return gray, f"DICOM {photometric}", notes


def _decode_pil(data: bytes) -> tuple[np.ndarray, str, list[str]]:
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"The image is {w} x {h} pixels, too large to process safely; "
                    "downscale it below 7000 x 7000 and upload it again.", code="image_pixels", w=w, h=h,
                )
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
                notes.append(Message(f"The image is animated ({img.n_frames} frames); only the first frame is used.", "animated", frames=img.n_frames))
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError("The image is too large to process safely; downscale it below 7000 x 7000 and upload it again.", code="image_bomb") from e
    except UnidentifiedImageError as e:
        raise ImageError("This file is not an image we can read; upload a chest X-ray as PNG, JPEG or DICOM.", code="not_an_image") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(
            f"The image file is truncated or corrupt ({e}); upload the original file again or export it anew.",
            code="image_corrupt", detail=str(e),
        ) from e
    mode = img.mode
    img = ImageOps.exif_transpose(img)
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _to_uint8(np.asarray(img))
        notes.append(Message(f"High bit depth ({mode}) stretched to 8 bits.", "high_bit_depth", mode=mode))
    elif mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        gray = np.asarray(Image.alpha_composite(background, rgba).convert("L"))
        notes.append(Message("Transparency flattened onto black.", "transparency"))
    elif mode == "L":
        gray = np.asarray(img)
    else:  # RGB, P, CMYK, YCbCr, 1, LAB, HSV
        rgb = img.convert("RGB")
        gray = np.asarray(rgb.convert("L"))
        if colourfulness(np.asarray(rgb)) > COLOUR_LIMIT:
            notes.append(Message("The image is in colour, but chest X-rays are grayscale: it is probably not an X-ray, "
                                 "so the prediction is likely meaningless.", "colour"))
    return np.ascontiguousarray(gray, dtype=np.uint8), mode, notes


def _read_bytes(source: str | os.PathLike | bytes | bytearray) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    path = Path(source)
    if not path.is_file():
        raise ImageError(f"No file at {path}; check the path.")
    if path.stat().st_size > MAX_BYTES:
        raise ImageError(f"{path.name} is larger than {MAX_BYTES // 2**20} MB; upload a smaller export of the X-ray.", code="image_file_too_large", mb=MAX_BYTES // 2**20)
    return path.read_bytes()


def decode_gray(source: Source) -> tuple[np.ndarray, str, list[str]]:
    """Any supported input -> (8-bit grayscale array (h, w), source mode, notes)."""
    if isinstance(source, np.ndarray):
        a = source
        if a.ndim == 3 and a.shape[-1] in (3, 4):
            mode = "RGB" if a.shape[-1] == 3 else "RGBA"
            a8 = a if a.dtype == np.uint8 else _to_uint8(a)
            return np.asarray(Image.fromarray(a8[..., :3]).convert("L")), mode, []
        if a.ndim != 2:
            raise ImageError(f"Expected a 2-D grayscale or (h, w, 3) colour array, got shape {a.shape}.")
        return (a if a.dtype == np.uint8 else _to_uint8(a)), str(a.dtype), []
    data = _read_bytes(source)
    if len(data) == 0:
        raise ImageError("The file is empty (0 bytes); upload the X-ray image again.", code="empty_file")
    if len(data) > MAX_BYTES:
        raise ImageError(f"The file is larger than {MAX_BYTES // 2**20} MB; upload a smaller export of the X-ray.", code="image_file_too_large", mb=MAX_BYTES // 2**20)
    if _is_dicom(data):
        return _decode_dicom(data)
    return _decode_pil(data)


def center_crop(gray: np.ndarray) -> np.ndarray:
    """The central square with the short edge as its side (MedMNIST's crop)."""
    h, w = gray.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return gray[top : top + s, left : left + s]


def _preview(gray: np.ndarray) -> np.ndarray:
    img = Image.fromarray(gray)
    img.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(img)


def preprocess(source: Source, size: int = 28, keep_steps: bool = False) -> Preprocessed:
    """THE preprocessing (X1): decode -> 8-bit grayscale -> centre crop -> resize to (size, size)."""
    gray, mode, notes = decode_gray(source)
    h, w = gray.shape
    if min(h, w) < MIN_SIDE:
        raise ImageError(
            f"The image is only {w} x {h} pixels; a chest X-ray needs at least {MIN_SIDE} x {MIN_SIDE} "
            f"(ideally {size} x {size} or more). Upload the full-size image.", code="image_too_small", w=w, h=h, min=MIN_SIDE, size=size,
        )
    if min(h, w) < size:
        notes.append(Message(f"The image ({w} x {h}) is smaller than the model input ({size} x {size}); it was enlarged.", "enlarged", w=w, h=h, size=size))
    if gray.max() == gray.min():
        notes.append(Message("The image is a single flat colour; the prediction is meaningless.", "flat"))
    steps: list[tuple[str, np.ndarray]] = []
    if keep_steps:
        steps.append((Message(f"decoded: {mode}, {w} x {h}", "step_decoded", mode=mode, w=w, h=h), _preview(gray)))
    square = center_crop(gray)
    if keep_steps:
        steps.append((Message(f"centre crop to {square.shape[1]} x {square.shape[0]}", "step_crop", w=square.shape[1], h=square.shape[0]), _preview(square)))
    if square.shape != (size, size):
        resized = np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.BICUBIC, reducing_gap=3.0))
    else:
        resized = square
    resized = np.array(resized, dtype=np.uint8)  # a writable copy (torch.from_numpy wants one)
    if keep_steps:
        steps.append((Message(f"model input: 8-bit grayscale, {size} x {size}", "step_input", size=size), resized))
    return Preprocessed(resized, tuple(steps), tuple(notes), (w, h), mode)


def preprocess_batch(images: np.ndarray, size: int) -> np.ndarray:
    """A stack of dataset images (n, h, w) -> (n, size, size) uint8 through `preprocess`."""
    if images.ndim == 3 and images.shape[1:] == (size, size) and images.dtype == np.uint8:
        return images  # already what preprocess would return
    return np.stack([preprocess(im, size).image for im in images])
