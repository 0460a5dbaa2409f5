"""Reference tables: operators and locations (the source of time zones and currencies)."""

import pandera.polars as pa
import polars as pl

from resources.tables import TableSpec


class OperatorModel(pa.DataFrameModel):
    """Operators need an id, a valid-looking currency and a time zone."""

    operator_id: str = pa.Field(nullable=False, unique=True)
    currency: str = pa.Field(nullable=False, str_matches=r"^[A-Z]{3}$")
    time_zone: str = pa.Field(nullable=False)


class LocationModel(pa.DataFrameModel):
    """Every location has a unique id and a time zone."""

    location_id: str = pa.Field(nullable=False, unique=True)
    time_zone: str = pa.Field(nullable=False)


OPERATORS = TableSpec(
    name="operators",
    description="Charge point operators (CPOs) with their home time zone and currency.",
    schema={"operator_id": pl.String(), "name": pl.String(), "country": pl.String(),
            "time_zone": pl.String(), "currency": pl.String(), "raw_payload": pl.String()},
    sort_by=("operator_id",),
    column_docs={"time_zone": "IANA zone; the operator's settlement day is a local day in it."},
    model=OperatorModel,
)

LOCATIONS = TableSpec(
    name="locations",
    description="Charging locations (sites) with their IANA time zone, operator and EVSE count.",
    schema={"location_id": pl.String(), "operator_id": pl.String(), "country_code": pl.String(),
            "party_id": pl.String(), "name": pl.String(), "city": pl.String(), "time_zone": pl.String(),
            "evse_count": pl.Int64(), "raw_payload": pl.String()},
    sort_by=("location_id",),
    column_docs={"time_zone": "IANA zone of the site; tariff windows and settlement dates are local to it."},
    model=LocationModel,
)


class EvseModel(pa.DataFrameModel):
    """Every EVSE belongs to a location and has a time zone."""

    evse_uid: str = pa.Field(nullable=False)
    location_id: str = pa.Field(nullable=False)
    time_zone: str = pa.Field(nullable=False)


EVSES = TableSpec(
    name="evses",
    description="EVSEs of every location, with the OCPP charge point that serves them and their tariffs.",
    schema={"location_id": pl.String(), "evse_uid": pl.String(), "evse_id": pl.String(),
            "charge_point_id": pl.String(), "ocpp_protocol": pl.String(), "operator_id": pl.String(),
            "time_zone": pl.String(), "power_type": pl.String(), "max_electric_power_w": pl.Int64(),
            "tariff_ids": pl.List(pl.String())},
    sort_by=("location_id", "evse_uid"),
    column_docs={"charge_point_id": "OCPP charge point identity (the websocket path) serving this EVSE.",
                 "tariff_ids": "Tariffs of the EVSE's first connector."},
    model=EvseModel,
)

TABLES = [OPERATORS, LOCATIONS, EVSES]
