"""The production settings, with the floor's route added (bench/floor_urls.py); nothing else differs."""

from productops.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
