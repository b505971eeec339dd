"""A degradation written as a file by the tests that add one (the CLI test and the workflow's dry run)."""

NEW_DEGRADATION = '''
    """``box2``: 2 x 2 box average then every s-th pixel (a test degradation)."""
    import numpy as np

    from sisr.degradations import Degradation
    from sisr.base.imresize import modcrop


    def box(hr, scale, rng):
        cropped = modcrop(hr, scale).astype(np.float64)
        summed = cropped + np.roll(cropped, -1, 0) + np.roll(cropped, -1, 1) + np.roll(cropped, (-1, -1), (0, 1))
        return np.round(summed[::scale, ::scale] / 4).astype(np.uint8), modcrop(hr, scale)


    DEGRADATION = Degradation("box2", "2 x 2 box average, then subsampling", True, box)
'''
