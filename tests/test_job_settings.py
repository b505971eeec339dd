"""The record a training job receives and the logging settings it reads from the environment (sisr.config.job_settings)."""

import pytest

from sisr.base.errors import ConfigError
from sisr.config.job_settings import (PROGRESS_ENV, TENSORBOARD_ENV, LoggingSettings, TrainJob, export_logging_settings,
                               logging_settings)


def test_the_record_travels_as_a_plain_dict_and_comes_back_equal():
    job = TrainJob(settings={"model": "espcn", "epochs": 2}, where="espcn.runs.espcn", device="cpu", num_workers=2,
                   weights_dir="weights", weights_checksums={"vgg19.pth": "ab"}, max_batches=2, valid_images=3)
    param = job.to_param()
    assert type(param) is dict and all(type(v) in (dict, str, int, type(None)) for v in param.values())
    assert TrainJob.from_param(param) == job


def test_logging_settings_round_trip_through_the_environment():
    env: dict[str, str] = {}
    export_logging_settings({"progress_every_s": 5, "tensorboard": True}, env)
    assert env == {PROGRESS_ENV: "5.0", TENSORBOARD_ENV: "1"}
    assert logging_settings(env) == LoggingSettings(progress_every_s=5.0, tensorboard=True)
    assert logging_settings({}) == LoggingSettings()  # a job run by hand: the defaults


def test_a_bad_progress_interval_in_the_environment_names_the_variable():
    with pytest.raises(ConfigError, match=f"environment variable {PROGRESS_ENV}: 'soon' is not a number"):
        logging_settings({PROGRESS_ENV: "soon"})
