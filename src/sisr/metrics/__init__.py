"""Image-quality metrics. ``basic``: PSNR, SSIM, MS-SSIM, MSE and the BT.601 Y channel (numpy, float64)."""

from sisr.metrics.basic import ms_ssim, mse, psnr, rgb_to_y, ssim

__all__ = ["ms_ssim", "mse", "psnr", "rgb_to_y", "ssim"]
