"""The demo fleet: operators (CPOs), eMSP partners, sites → stations → EVSEs/connectors, home chargers.

The fleet is sized from the daily session volume and kept as numpy arrays (one row per EVSE) so that a
1,000,000-session day does not need a million Python objects; string identifiers are derived on demand.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np

# Stable namespace for company UUIDs (seed 004 wants client-generated UUIDs).
_COMPANY_NS = uuid.UUID("6a1f3c2e-7d4b-4e8a-9c51-2f0d8b7e6a13")


@dataclass(frozen=True)
class Operator:
    """A charge point operator (or the home-charging provider) and how its data reaches us."""

    id: str
    name: str
    country: str  # ISO 3166-1 alpha-2
    country3: str  # alpha-3, as OCPI cdr_location.country
    party_id: str
    time_zone: str
    currency: str
    vat_percent: int
    backend: str  # ocpp | platform | eevion | interval
    ocpp_protocol: str  # ocpp1.6 | ocpp2.0.1
    cities: tuple[tuple[str, float, float, str], ...]  # (city, lat, lon, postal prefix)
    share: float  # share of the day's sessions
    supported_emps: tuple[str, ...]

    @property
    def writer(self) -> str:
        """Name of the central-system log writer for this operator's chargers."""
        return f"csms-{self.party_id.lower()}"


@dataclass(frozen=True)
class Emsp:
    """An e-mobility service provider whose customers roam onto our CPOs."""

    id: str  # "<country>-<party>"
    name: str
    country: str
    party_id: str


OPERATORS: tuple[Operator, ...] = (
    Operator("GB-VLT", "Voltline UK", "GB", "GBR", "VLT", "Europe/London", "GBP", 20, "ocpp", "ocpp1.6+2.0.1",
             (("London", 51.5072, -0.1276, "EC"), ("Manchester", 53.4808, -2.2426, "M"),
              ("Bristol", 51.4545, -2.5879, "BS")), 0.35, ("GB-OCT", "NL-TNM", "BE-PLG", "FR-RMG")),
    Operator("NL-GRX", "Gracht Charge", "NL", "NLD", "GRX", "Europe/Amsterdam", "EUR", 21, "platform", "ocpp2.0.1",
             (("Amsterdam", 52.3676, 4.9041, "10"), ("Utrecht", 52.0907, 5.1214, "35"),
              ("Rotterdam", 51.9244, 4.4777, "30")), 0.30, ("NL-TNM", "BE-PLG", "GB-OCT", "DE-CHX")),
    Operator("CA-MPL", "Maple Plug", "CA", "CAN", "MPL", "America/Toronto", "CAD", 13, "eevion", "ocpp1.6",
             (("Toronto", 43.6532, -79.3832, "M5"), ("Ottawa", 45.4215, -75.6972, "K1")), 0.20,
             ("CA-EVR", "NL-TNM")),
    Operator("GB-HMC", "HomeCharge UK", "GB", "GBR", "HMC", "Europe/London", "GBP", 5, "interval", "ocpp1.6",
             (("Reading", 51.4543, -0.9781, "RG"), ("Leeds", 53.8008, -1.5491, "LS")), 0.15, ()),
)

EMSPS: tuple[Emsp, ...] = (
    Emsp("NL-TNM", "TapNMove", "NL", "TNM"),
    Emsp("BE-PLG", "Plugvolt", "BE", "PLG"),
    Emsp("GB-OCT", "Octo Drive", "GB", "OCT"),
    Emsp("FR-RMG", "Roamgo", "FR", "RMG"),
    Emsp("DE-CHX", "ChargeX", "DE", "CHX"),
    Emsp("CA-EVR", "Everroam", "CA", "EVR"),
)

HOME_OPERATOR = 3


def operator_shares(ocpp_share: float | None = None) -> np.ndarray:
    """Each operator's share of the day's sessions.

    By default the operators' own `share`. With `ocpp_share`, the operators whose stations talk to our central
    system (OCPP frames: Voltline and the home chargers) together get that share and the others the rest, each
    group keeping its internal proportions; `--ocpp-share 0.02` makes a big day cheap to generate and ingest.
    """
    shares = np.array([op.share for op in OPERATORS])
    if ocpp_share is None:
        return shares
    ocpp = np.array([op.backend in ("ocpp", "interval") for op in OPERATORS])
    scaled = np.where(ocpp, shares / shares[ocpp].sum() * ocpp_share, shares / shares[~ocpp].sum() * (1 - ocpp_share))
    return scaled
AC_POWERS_W = np.array([7_400, 11_000, 22_000], dtype=np.int64)
DC_POWERS_W = np.array([50_000, 150_000, 350_000], dtype=np.int64)
EVSES_PER_STATION = 2
STATIONS_PER_SITE = 4


def company_uuid(name: str) -> str:
    """Deterministic company UUID (seed 004 `id`) for an operator or eMSP id."""
    return str(uuid.uuid5(_COMPANY_NS, name))


class Fleet:
    """All EVSEs as parallel arrays, plus the lookups session generation needs.

    Public EVSEs come two per station, four stations per site; home chargers are one EVSE per station per site.
    """

    def __init__(self, seed: int, sessions_per_day: int, ocpp_share: float | None = None) -> None:
        self.operator_shares = operator_shares(ocpp_share)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xF1EE7]))
        columns: dict[str, list[np.ndarray]] = {k: [] for k in ("op", "site", "station", "k", "dc", "power")}
        site_operator: list[np.ndarray] = []
        site_city: list[np.ndarray] = []
        n_sites = 0
        n_stations = 0
        # Built with numpy per operator (not a Python object per EVSE) so a 1M-session fleet stays small.
        for op_index, op in enumerate(OPERATORS):
            volume = sessions_per_day * float(self.operator_shares[op_index])
            if op_index == HOME_OPERATOR:
                # A home charger sees roughly one session a night: one site, one station, one EVSE each.
                stations = max(4, int(np.ceil(volume / 0.9)))
                evse_station = np.arange(stations)
                evse_site = evse_station
                evse_k = np.ones(stations, dtype=np.int64)
                evse_dc = np.zeros(stations, dtype=np.int64)
                evse_power = np.full(stations, 7_400, dtype=np.int64)
                sites = stations
            else:
                # About six sessions per public EVSE per day; two EVSEs per station, four stations per site,
                # the first station of every site DC and the rest AC.
                evses = max(8, int(np.ceil(volume / 6.0)))
                stations = max(STATIONS_PER_SITE, int(np.ceil(evses / EVSES_PER_STATION)))
                station_dc = (np.arange(stations) % STATIONS_PER_SITE == 0).astype(np.int64)
                station_power = np.where(station_dc == 1, rng.choice(DC_POWERS_W, stations),
                                         rng.choice(AC_POWERS_W, stations))
                evse_station = np.repeat(np.arange(stations), EVSES_PER_STATION)
                evse_site = evse_station // STATIONS_PER_SITE
                evse_k = np.tile(np.arange(1, EVSES_PER_STATION + 1), stations)
                evse_dc = station_dc[evse_station]
                evse_power = station_power[evse_station]
                sites = int(evse_site[-1]) + 1
            columns["op"].append(np.full(evse_station.shape[0], op_index, dtype=np.int64))
            columns["site"].append(evse_site + n_sites)
            columns["station"].append(evse_station + n_stations)
            columns["k"].append(evse_k)
            columns["dc"].append(evse_dc)
            columns["power"].append(evse_power)
            site_operator.append(np.full(sites, op_index, dtype=np.int64))
            site_city.append(rng.integers(0, len(op.cities), sites))
            n_sites += sites
            n_stations += stations
        self.evse_operator = np.concatenate(columns["op"])
        self.evse_site = np.concatenate(columns["site"])
        self.evse_station = np.concatenate(columns["station"])
        self.evse_k = np.concatenate(columns["k"])
        self.evse_is_dc = np.concatenate(columns["dc"]).astype(bool)
        self.evse_power_w = np.concatenate(columns["power"])
        self.station_count = n_stations
        self.site_operator = np.concatenate(site_operator)
        self.site_city = np.concatenate(site_city)
        self.site_lat_lon = rng.uniform(-0.08, 0.08, size=(n_sites, 2))
        # Candidate EVSEs per (operator, is_dc) for vectorised sampling.
        self.pool: dict[tuple[int, bool], np.ndarray] = {}
        for op_index in range(len(OPERATORS)):
            for is_dc in (False, True):
                mask = (self.evse_operator == op_index) & (self.evse_is_dc == is_dc)
                self.pool[(op_index, is_dc)] = np.flatnonzero(mask)

    @property
    def site_count(self) -> int:
        """Number of sites (OCPI locations)."""
        return int(self.site_operator.shape[0])

    def site_evse_ranges(self):
        """(site, first EVSE, end EVSE) per site: EVSE rows are stored grouped by site."""
        bounds = np.flatnonzero(np.diff(self.evse_site)) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [self.evse_count]))
        for first, end in zip(starts.tolist(), ends.tolist()):
            yield int(self.evse_site[first]), first, end

    @property
    def evse_count(self) -> int:
        """Number of EVSEs (one connector each)."""
        return int(self.evse_operator.shape[0])

    # --- identifiers derived from array rows -------------------------------------------------------------
    def charge_point_id(self, evse: int) -> str:
        """OCPP charge point identity (the websocket path) of the station holding `evse`."""
        op = OPERATORS[int(self.evse_operator[evse])]
        return f"CP-{op.party_id}-{int(self.evse_station[evse]):06d}"

    def evse_uid(self, evse: int) -> str:
        """OCPI EVSE uid (unique within the CPO)."""
        return f"{int(self.evse_station[evse]):06d}-{int(self.evse_k[evse])}"

    def evse_id(self, evse: int) -> str:
        """eMI3 EVSE id, e.g. `GB*VLT*E000012*1`."""
        op = OPERATORS[int(self.evse_operator[evse])]
        return f"{op.country}*{op.party_id}*E{int(self.evse_station[evse]):06d}*{int(self.evse_k[evse])}"

    def location_id(self, evse: int) -> str:
        """OCPI location id of the site holding `evse`."""
        return self.site_location_id(int(self.evse_site[evse]))

    def site_location_id(self, site: int) -> str:
        """OCPI location id of a site."""
        op = OPERATORS[int(self.site_operator[site])]
        return f"LOC-{op.party_id}-{site:06d}"

    def site_name(self, site: int) -> str:
        """Human site name."""
        op = OPERATORS[int(self.site_operator[site])]
        city = op.cities[int(self.site_city[site])][0]
        kind = "Home" if int(self.site_operator[site]) == HOME_OPERATOR else "Hub"
        return f"{city} {kind} {site:06d}"

    def site_address(self, site: int) -> dict:
        """City, street, postal code and coordinates of a site."""
        op = OPERATORS[int(self.site_operator[site])]
        city, lat, lon, postal = op.cities[int(self.site_city[site])]
        d_lat, d_lon = self.site_lat_lon[site]
        return {
            "address": f"{10 + site % 190} Station Road",
            "city": city,
            "postal_code": f"{postal}{1 + site % 9} {site % 10}AB" if op.country == "GB" else f"{postal}{site % 100:02d}",
            "coordinates": {"latitude": f"{lat + d_lat:.6f}", "longitude": f"{lon + d_lon:.6f}"},
        }

    def power_type(self, evse: int) -> str:
        """OCPI connector power type."""
        if self.evse_is_dc[evse]:
            return "DC"
        return "AC_1_PHASE" if int(self.evse_power_w[evse]) <= 7_400 else "AC_3_PHASE"

    def phases(self, evse: int) -> int:
        """Number of AC phases (0 for DC)."""
        if self.evse_is_dc[evse]:
            return 0
        return 1 if int(self.evse_power_w[evse]) <= 7_400 else 3

    def ocpp_protocol(self, evse: int) -> str | None:
        """OCPP version the EVSE's station speaks to *our* central system, or None when another CSMS runs it.

        Voltline's DC stations are newer 2.0.1 hardware, its AC stations and the home chargers speak 1.6J;
        the platform and Eevion operators run their own central systems, so their frames never reach us.
        """
        op = OPERATORS[int(self.evse_operator[evse])]
        if op.backend not in ("ocpp", "interval"):
            return None
        return "ocpp2.0.1" if self.evse_is_dc[evse] else "ocpp1.6"

    def connector_standard(self, evse: int) -> tuple[str, str]:
        """(OCPI standard, format) of the EVSE's single connector."""
        if self.evse_is_dc[evse]:
            return "IEC_62196_T2_COMBO", "CABLE"
        return "IEC_62196_T2", "SOCKET"
