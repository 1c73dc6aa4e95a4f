#!/usr/bin/python3
"""Tissue-segmentation parity fixtures: runs CLAM's segmentTissue / process_contour steps with
OpenCV (python3-opencv) on a synthetic image and on CMU-1-Small-Region.svs, and writes what
tests/test_tissue_parity.cpp compares against (masks as PNG, contours and coordinates as JSON).

Run with Debian's python: /usr/bin/python3 scripts/make_tissue_fixture.py [SAMPLES_DIR]
The steps below restate CLAM's (wsi_core/WholeSlideImage.py) calls one by one."""
import hashlib, json, os, sys
import cv2
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data', 'tissue')


def synthetic_image():
    """Tissue-like blobs on a near-white background, from formulas only (the C++ test reads the PNG)."""
    h, w = 240, 320
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.full((h, w, 3), 240.0)
    img += (6 * np.sin(xx * 0.37) * np.cos(yy * 0.23))[..., None]                     # background texture, low S

    def paint(sel, rgb):
        for c in range(3):
            img[..., c][sel] = rgb[c] + 10 * np.sin(xx[sel] * 0.5 + c) * np.cos(yy[sel] * 0.3)
    big = ((xx - 90) / 70) ** 2 + ((yy - 100) / 60) ** 2 < 1                # blob with holes
    paint(big, (200, 120, 170))
    paint(((xx - 70) / 14) ** 2 + ((yy - 90) / 10) ** 2 < 1, (238, 236, 240))   # big hole
    paint(((xx - 120) / 5) ** 2 + ((yy - 120) / 4) ** 2 < 1, (238, 236, 240))   # small hole
    paint((abs(xx - 100) < 2) & (abs(yy - 70) < 2), (238, 236, 240))             # tiny hole (closed away)
    ring = (np.hypot(xx - 240, yy - 150) < 60) & (np.hypot(xx - 240, yy - 150) > 40)
    paint(ring, (180, 90, 150))
    paint(np.hypot(xx - 240, yy - 150) < 18, (190, 100, 160))                    # blob nested in the ring's hole
    paint((abs(xx - 280) < 6) & (abs(yy - 30) < 6), (170, 80, 140))              # small blob, filtered by a_t
    paint((abs(xx - 20) < 3) & (yy > 200), (170, 80, 140))                       # blob touching the bottom edge
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def segment(rgb, ds, sthresh=8, sthresh_up=255, mthresh=7, close=4, use_otsu=False,
            a_t=100, a_h=16, max_n_holes=8, ref_patch_size=512):
    hsv = cv2.cvtColor(rgb[..., :3], cv2.COLOR_RGB2HSV)
    s = cv2.medianBlur(hsv[..., 1], mthresh)
    if use_otsu:
        otsu, mask = cv2.threshold(s, 0, sthresh_up, cv2.THRESH_OTSU + cv2.THRESH_BINARY)
    else:
        otsu, mask = -1, cv2.threshold(s, sthresh, sthresh_up, cv2.THRESH_BINARY)[1]
    if close > 0:
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((close, close), np.uint8))
    unit = int(ref_patch_size ** 2 / (ds[0] * ds[1]))
    a_t_px, a_h_px = a_t * unit, a_h * unit
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    hierarchy = np.squeeze(hierarchy, axis=(0,))[:, 2:]
    kept, kept_holes = [], []
    for idx in np.flatnonzero(hierarchy[:, 1] == -1):
        holes = np.flatnonzero(hierarchy[:, 1] == idx)
        a = cv2.contourArea(contours[idx]) - np.array([cv2.contourArea(contours[i]) for i in holes]).sum()
        if a == 0 or not a > a_t_px:
            continue
        kept.append(contours[idx])
        hs = sorted([contours[i] for i in holes], key=cv2.contourArea, reverse=True)[:max_n_holes]
        kept_holes.append([hh for hh in hs if cv2.contourArea(hh) > a_h_px])
    scale = np.array(ds)
    kept0 = [np.array(c * scale, dtype='int32') for c in kept]
    holes0 = [[np.array(hh * scale, dtype='int32') for hh in hs] for hs in kept_holes]
    return mask, otsu, contours, hierarchy, kept0, holes0


def grid(kept0, holes0, size, step, w0, h0, use_padding=True):
    coords = []
    shift = int(size // 2 * 0.5)
    for cont, holes in zip(kept0, holes0):
        x0, y0, w, h = cv2.boundingRect(cont)
        stop_x, stop_y = x0 + w, y0 + h
        if not use_padding:
            stop_x, stop_y = min(stop_x, w0 - size + 1), min(stop_y, h0 - size + 1)
        xs, ys = np.meshgrid(np.arange(x0, stop_x, step), np.arange(y0, stop_y, step), indexing='ij')
        for x, y in zip(xs.flatten(), ys.flatten()):
            cx, cy = x + size // 2, y + size // 2
            pts = [(cx - shift, cy - shift), (cx + shift, cy + shift), (cx + shift, cy - shift), (cx - shift, cy + shift)]
            if not any(cv2.pointPolygonTest(cont, (float(px), float(py)), False) >= 0 for px, py in pts):
                continue
            if any(cv2.pointPolygonTest(hh, (x + size / 2, y + size / 2), False) > 0 for hh in holes):
                continue
            coords.append([int(x), int(y)])
    return coords


def describe(contours, hierarchy):
    return [dict(n=len(c), first=[int(v) for v in c[0][0]], area=float(cv2.contourArea(c)),
                 bbox=[int(v) for v in cv2.boundingRect(c)], parent=int(hierarchy[i][1]))
            for i, c in enumerate(contours)]


def write_case(name, rgb, ds, params, size, step, use_padding=True, w0=None, h0=None):
    mask, otsu, contours, hierarchy, kept0, holes0 = segment(rgb, ds, **params)
    w0 = w0 or rgb.shape[1]; h0 = h0 or rgb.shape[0]
    coords = grid(kept0, holes0, size, step, w0, h0, use_padding)
    cv2.imwrite(os.path.join(OUT, f'{name}_mask.png'), mask)
    doc = dict(downsample=list(ds), params=params, region_size=size, step=step, use_padding=use_padding,
               width0=w0, height0=h0, otsu=int(otsu), tissue_pixels=int((mask > 0).sum()),
               mask_sha256=hashlib.sha256(mask.tobytes()).hexdigest(),
               contours=describe(contours, hierarchy),
               regions=[dict(outer_n=len(c), outer_bbox=[int(v) for v in cv2.boundingRect(c)],
                             holes=[dict(n=len(hh), bbox=[int(v) for v in cv2.boundingRect(hh)]) for hh in hs])
                        for c, hs in zip(kept0, holes0)],
               coords=coords)
    with open(os.path.join(OUT, f'{name}.json'), 'w') as f:
        json.dump(doc, f, indent=0)
    print(name, 'contours', len(contours), 'regions', len(kept0), 'coords', len(coords), 'tissue', doc['tissue_pixels'])


def main():
    os.makedirs(OUT, exist_ok=True)
    syn = synthetic_image()
    cv2.imwrite(os.path.join(OUT, 'synthetic.png'), cv2.cvtColor(syn, cv2.COLOR_RGB2BGR))
    small = dict(a_t=1, a_h=0.05, ref_patch_size=64)
    write_case('synthetic', syn, (2.0, 2.0), small, size=32, step=32)
    write_case('synthetic_nopad', syn, (2.0, 2.0), small, size=32, step=24, use_padding=False, w0=640, h0=480)
    write_case('synthetic_otsu', syn, (2.0, 2.0), dict(small, use_otsu=True), size=32, step=32)
    samples = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'wsi-samples')
    path = os.path.join(samples, 'CMU-1-Small-Region.svs')
    if os.path.exists(path):
        import openslide
        s = openslide.OpenSlide(path)
        level = s.get_best_level_for_downsample(64)
        dims = s.level_dimensions[level]
        rgba = np.array(s.read_region((0, 0), level, dims))
        ds = (s.dimensions[0] / dims[0], s.dimensions[1] / dims[1])
        # The default a_t = 100 reference patches (512² level-0 px) is larger than this small region.
        write_case('cmu1', rgba, ds, dict(a_t=1, a_h=1), size=256, step=256,
                   w0=s.dimensions[0], h0=s.dimensions[1])
    else:
        print('no', path, '- skipping the CMU-1 fixture')


if __name__ == '__main__':
    main()
