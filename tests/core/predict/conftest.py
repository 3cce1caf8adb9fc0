"""CDNOW fixtures: the 1/10 sample of Fader, Hardie & Lee (2005) and its published summary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.core.predict import summarise_orders

DATA = Path(__file__).resolve().parents[2] / "data"
# FHL 2005 calibrate on weeks 1-39: 1997-01-01 to 1997-09-30 inclusive.
CDNOW_CALIBRATION_END = np.datetime64("1997-09-30")


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    """Return the CDNOW sample order log (columns: master id, sample id, date, CDs, dollars)."""
    orders = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    orders["ordered_at"] = pd.to_datetime(orders["date"], format="%Y%m%d")
    return orders


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_orders: pd.DataFrame) -> pd.DataFrame:
    """Return the calibration-period summary rebuilt from the order log, in weeks."""
    return summarise_orders(
        cdnow_orders["customer_id"],
        cdnow_orders["ordered_at"],
        CDNOW_CALIBRATION_END,
        values=cdnow_orders["dollars"],
    )


@pytest.fixture(scope="session")
def cdnow_published_summary() -> pd.DataFrame:
    """Return the published (frequency, recency, T) summary of the same 2,357 customers."""
    return pd.read_csv(DATA / "cdnow_customers_summary.csv", index_col="ID")
