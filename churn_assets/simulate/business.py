"""Vectorised, deterministic simulation of a subscription (telecom/SaaS-like) business.

The simulation loops over months only; every step is a numpy operation over the
customers active in that month.  Each customer carries

* static traits (region, age band, payment method, engagement, financial stress,
  a baseline risk ``mu``) drawn once when the customer is created;
* a latent monthly risk ``z = mu + d`` where ``d`` follows an AR(1) process, so
  behaviour persists from month to month;
* a data demand that drifts slowly upwards (so customers outgrow their plan);
* contract, discount, plan and add-on state that changes through events.

Observable behaviour (usage, tickets, late payments, logins, satisfaction, NPS)
is a noisy read-out of that state, and cancellation / plan-change hazards are
nonlinear functions of the state plus noise.  The model therefore sees churn
drivers only partially, which is what makes the learning problem realistic.

``simulate_business`` returns raw tables as pandas DataFrames; ``seed.py`` writes
them to DuckDB and defines the feature view with the labels.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

# --- catalogue -------------------------------------------------------------------------

PLAN_CODES = ["BAS", "STD", "PRM", "UNL"]
PLAN_NAMES = ["basic", "standard", "premium", "unlimited"]
PLAN_PRICE = np.array([25.0, 45.0, 70.0, 95.0])  # list price at the start of the simulation
PLAN_ALLOWANCE = np.array([5.0, 20.0, 60.0, np.inf])  # GB per month; unlimited has none
OVERAGE_PER_GB, OVERAGE_CAP = 1.5, 60.0
PRODUCT_PRICE, STREAMING_PRICE, PROTECTION_PRICE = 10.0, 12.0, 8.0
ANNUAL_PRICE_RISE = 1.04  # applied every April

CONTRACTS = ["month-to-month", "one-year", "two-year"]
CONTRACT_TERM = np.array([1, 12, 24])
REGIONS = ["north", "south", "east", "west", "central"]
PAYMENT_METHODS = ["credit_card", "bank_transfer", "electronic_check", "mailed_check"]
SEGMENTS = ["consumer", "small_business"]
AGE_BANDS = ["18-24", "25-34", "35-44", "45-54", "55-64", "65+"]
CHANNELS = ["online", "retail_store", "telesales", "partner"]
CANCEL_REASONS = ["price", "service", "competitor", "contract_end", "relocation", "other"]

# --- dynamics parameters ---------------------------------------------------------------

# Warm-up months before the first snapshot: fills the AR state and rolling windows and lets
# churn select out high-risk customers, so the first snapshot is already near steady state.
BURN_IN = 12
PHI, SIGMA_D = 0.85, 0.75  # AR(1) persistence and stationary sd of the latent risk deviation
JOIN_RATE, JOIN_TREND = 0.024, 0.0006  # joiners per active customer per month, + per-month growth
# Calendar-month effects (index 0 = January).
CHURN_SEASON = np.array([0.35, 0.15, 0.0, 0.10, 0.05, 0.0, 0.0, 0.05, -0.05, 0.0, -0.05, -0.15])
JOIN_SEASON = np.array([1.0, 0.9, 0.95, 0.95, 0.9, 0.85, 0.85, 1.05, 1.45, 1.15, 1.2, 1.1])
JOIN_SEASON = JOIN_SEASON / JOIN_SEASON.mean()
USAGE_SEASON = np.array([1.04, 0.98, 1.0, 0.99, 0.98, 1.01, 1.05, 1.06, 0.99, 0.98, 1.0, 1.07])
UPGRADE_SEASON = np.array([0.1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.3, 0.1, 0.25, 0.1])

CHURN_BASE = -5.75
UPGRADE_BASE = -4.7
DOWNGRADE_BASE = -4.9

_F = np.float32


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _month_start(d: dt.date) -> dt.date:
    return dt.date(d.year, d.month, 1)


# --- customer creation -----------------------------------------------------------------


def _new_customers(
    rng: np.random.Generator, n: int, first_id: int, entry_k: np.ndarray, tenure: np.ndarray, joiner: bool
) -> dict[str, np.ndarray]:
    """Static traits plus initial dynamic state for ``n`` customers entering at month ``entry_k``.

    ``tenure`` is the tenure (months) at entry; ``joiner`` selects the contract/promo mix of
    brand-new customers versus customers already in the book when the simulation starts.
    """
    age = rng.choice(6, n, p=[0.10, 0.22, 0.22, 0.20, 0.15, 0.11]).astype(np.int8)
    segment = (rng.random(n) < 0.15).astype(np.int8)
    channel = rng.choice(4, n, p=[0.40, 0.30, 0.15, 0.15]).astype(np.int8)
    pay = rng.choice(4, n, p=[0.34, 0.25, 0.29, 0.12]).astype(np.int8)
    region = rng.choice(5, n, p=[0.22, 0.20, 0.20, 0.18, 0.20]).astype(np.int8)
    engagement = rng.standard_normal(n).astype(_F)
    fin_stress = (rng.standard_normal(n) + 0.4 * (age == 0) - 0.2 * (age >= 4)).astype(_F)
    # Baseline risk: partly explained by observable traits, mostly idiosyncratic.
    mu = (
        0.45 * rng.standard_normal(n)
        + 0.25 * (age <= 1)
        - 0.2 * (age >= 4)
        + 0.2 * (channel == 3)
        + 0.1 * (channel == 0)
        - 0.2 * segment
        - 0.2 * engagement
    ).astype(_F)
    log_demand = np.minimum(
        2.0 + 0.9 * rng.standard_normal(n) + 0.4 * segment + 0.3 * (age <= 1) - 0.4 * (age == 5), 6.2
    ).astype(_F)  # GB, capped near 500
    # People pick roughly the cheapest plan that covers their (misjudged) demand.
    perceived = np.exp(log_demand + 0.45 * rng.standard_normal(n))
    plan = np.minimum(np.searchsorted(PLAN_ALLOWANCE, perceived), 3).astype(np.int8)

    contract_p = [0.55, 0.25, 0.20] if joiner else [0.42, 0.30, 0.28]
    contract = rng.choice(3, n, p=contract_p).astype(np.int8)
    term = CONTRACT_TERM[contract]
    if joiner:
        into_term = np.zeros(n, dtype=np.int32)
    else:  # already somewhere inside the current term
        into_term = (rng.random(n) * term).astype(np.int32)
    contract_end_k = (entry_k + term - 1 - into_term).astype(np.int32)

    promo = rng.random(n) < (0.45 if joiner else 0.35)
    promo &= tenure < 12
    discount = np.where(promo, rng.choice([0.10, 0.15, 0.20, 0.25, 0.30], n), 0.0).astype(_F)
    disc_left = np.where(promo, 12 - tenure, 0).astype(np.int16)

    products = rng.choice([1, 2, 3, 4], n, p=[0.55, 0.28, 0.12, 0.05]).astype(np.int8)
    streaming = rng.random(n) < 0.35
    protection = rng.random(n) < 0.25
    paperless = rng.random(n) < (0.55 + 0.25 * (age <= 2))
    dnc = rng.random(n) < 0.04
    call_base = np.exp(4.6 + 0.5 * rng.standard_normal(n) + 0.6 * segment + 0.2 * (age >= 4)).astype(_F)
    d = (SIGMA_D * rng.standard_normal(n)).astype(_F)
    # Pre-simulation spend, so total_charges is plausible for customers already in the book.
    est_charge = PLAN_PRICE[plan] * 0.95 + PRODUCT_PRICE * (products - 1)
    total = (tenure * est_charge * rng.uniform(0.85, 1.0, n)).astype(np.float64)

    return {
        "id": np.arange(first_id, first_id + n, dtype=np.int64),
        "signup_k": (entry_k - tenure).astype(np.int32),
        "age": age,
        "segment": segment,
        "channel": channel,
        "pay": pay,
        "region": region,
        "paperless": paperless,
        "dnc": dnc,
        "engagement": engagement,
        "fin_stress": fin_stress,
        "mu": mu,
        "call_base": call_base,
        "log_demand": log_demand,
        "d": d,
        "plan": plan,
        "next_plan": plan.copy(),
        "contract": contract,
        "contract_end_k": contract_end_k,
        "lapsed_k": np.full(n, -999, dtype=np.int32),  # month the customer went off-contract
        "discount": discount,
        "disc_left": disc_left,
        "disc_end_k": np.full(n, -999, dtype=np.int32),  # first full-price month after a promo
        "products": products,
        "streaming": streaming,
        "protection": protection,
        "tenure": tenure.astype(np.int32),
        "hist_n": np.zeros(n, dtype=np.int16),
        "usage_hist": np.zeros((n, 3), dtype=_F),
        "tick_hist": np.zeros((n, 3), dtype=np.int16),
        "late_hist": np.zeros((n, 6), dtype=np.int8),
        "total": total,
    }


_STATIC_COLUMNS = ["id", "signup_k", "age", "segment", "channel", "pay", "region", "paperless", "dnc"]


def _concat(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _take(state: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in state.items()}


# --- main entry point ------------------------------------------------------------------


def simulate_business(customers: int, months: int, seed: int, end_month: dt.date) -> dict[str, pd.DataFrame]:
    """Simulate ``months`` monthly snapshots ending at ``end_month`` (normalised to the 1st).

    ``customers`` is the number of customers active in the first snapshot month; customers
    join (seasonally, with a mild upward trend) and cancel afterwards.  Returns raw tables:
    ``plans``, ``customers``, ``customer_months``, ``plan_changes``, ``cancellations`` and
    ``data_as_of``.  Identical arguments give identical tables.
    """
    if customers < 1 or months < 1:
        raise ValueError("customers and months must be positive")
    rng = np.random.default_rng(seed)
    end_month = _month_start(end_month)
    m0 = np.datetime64(end_month, "M") - (months - 1)  # first snapshot month (k = 0)
    first_month = m0.astype("datetime64[D]").astype(dt.date)

    def cal_month(k: int) -> int:  # 0 = January
        return int((m0 + k).astype(int) % 12)

    # The book at the start of the warm-up.  During the warm-up every cancellation is
    # replaced by a joiner, so exactly `customers` are active in the first snapshot month.
    tenure0 = np.minimum(rng.geometric(1 / 30, customers) - 1, 120).astype(np.int32)
    state = _new_customers(rng, customers, 1_000_001, np.full(customers, -BURN_IN, np.int32), tenure0, joiner=False)
    next_id = 1_000_001 + customers
    replace = 0  # cancellations of the previous warm-up month
    static_parts: list[dict[str, np.ndarray]] = []
    price_index = 1.0

    rows: list[dict[str, np.ndarray]] = []
    changes: list[dict[str, np.ndarray]] = []
    cancels: list[dict[str, np.ndarray]] = []
    n_plans = len(PLAN_CODES)

    for k in range(-BURN_IN, months):
        cm = cal_month(k)
        if k > -BURN_IN and cm == 3:
            price_index *= ANNUAL_PRICE_RISE

        # 1. Existing customers: apply plan changes decided last month, evolve latent state.
        n_old = len(state["id"])
        changed = state["next_plan"] != state["plan"]
        if k >= 0 and changed.any():
            changes.append(
                {
                    "id": state["id"][changed],
                    "k": np.full(int(changed.sum()), k, np.int32),
                    "from": state["plan"][changed],
                    "to": state["next_plan"][changed],
                }
            )
        state["plan"] = state["next_plan"].copy()
        state["d"] = (PHI * state["d"] + np.sqrt(1 - PHI**2) * SIGMA_D * rng.standard_normal(n_old, dtype=_F)).astype(
            _F
        )
        # Demand creeps up (new apps, more devices): customers slowly outgrow their plan.
        state["log_demand"] = np.minimum(
            state["log_demand"] + _F(0.004) + _F(0.05) * rng.standard_normal(n_old, dtype=_F), _F(6.2)
        )

        # 2. Joiners: replacements during the warm-up, then seasonal with a mild trend.
        if k <= 0:
            nj = replace
        else:
            rate = JOIN_RATE * JOIN_SEASON[cm] * (1 + JOIN_TREND * k)
            nj = int(rng.poisson(rate * len(state["id"])))
        if nj:
            joiners = _new_customers(rng, nj, next_id, np.full(nj, k, np.int32), np.zeros(nj, np.int32), joiner=True)
            next_id += nj
            state = _concat(state, joiners)
            if k > 0:
                static_parts.append({c: joiners[c] for c in _STATIC_COLUMNS})
        if k == 0:  # raw.customers holds everyone who appears in a snapshot
            static_parts.append({c: state[c] for c in _STATIC_COLUMNS})
        n = len(state["id"])
        s = state

        # 3. Monthly behaviour, a noisy read-out of the latent risk z.
        outage = rng.random(len(REGIONS)) < 0.07  # regional network incidents
        out_c = outage[s["region"]]
        s["d"] += _F(0.35) * out_c  # a bad month sours customers for a while (decays via AR)
        z = s["mu"] + s["d"]
        plan = s["plan"]
        allowance = PLAN_ALLOWANCE[plan]
        usage = (
            np.exp(s["log_demand"] - 0.18 * z + 0.18 * rng.standard_normal(n, dtype=_F)) * USAGE_SEASON[cm]
        ).astype(_F)
        overage = np.minimum(np.maximum(usage - allowance, 0) * OVERAGE_PER_GB, OVERAGE_CAP)
        tickets = rng.poisson(np.exp(-1.9 + 0.7 * z + 1.0 * out_c + 0.5 * (overage > 0))).astype(np.int16)
        pay_eff = np.array([-0.3, 0.0, 1.1, 0.8])[s["pay"]]
        late = rng.random(n, dtype=_F) < _sigmoid(-4.3 + pay_eff + 0.9 * s["fin_stress"] + 0.35 * z)
        logins = rng.poisson(np.exp(2.6 + 0.4 * s["engagement"] - 0.35 * z + 0.15 * rng.standard_normal(n, dtype=_F)))
        session = np.exp(1.9 + 0.25 * s["engagement"] - 0.12 * z + 0.2 * rng.standard_normal(n, dtype=_F))
        calls = s["call_base"] * np.exp(-0.1 * z + 0.25 * rng.standard_normal(n, dtype=_F))
        satisfaction = np.round(
            10 * _sigmoid(1.0 - 0.8 * z - 0.25 * tickets + 0.45 * rng.standard_normal(n, dtype=_F)), 1
        )
        surveyed = rng.random(n, dtype=_F) < 0.2
        nps = np.clip(np.round(7.2 - 1.6 * z + 1.6 * rng.standard_normal(n, dtype=_F)), 0, 10)
        charges = (
            price_index * PLAN_PRICE[plan] * (1 - s["discount"])
            + PRODUCT_PRICE * (s["products"] - 1)
            + STREAMING_PRICE * s["streaming"]
            + PROTECTION_PRICE * s["protection"]
            + overage
        )
        charges = np.round(charges, 2)
        s["total"] += charges

        # Rolling windows via ring buffers (slots hold the previous 3 / 6 months).
        slot3, slot6 = (k + BURN_IN) % 3, (k + BURN_IN) % 6
        hist_n = s["hist_n"]
        prev_mean = s["usage_hist"].sum(axis=1) / np.maximum(np.minimum(hist_n, 3), 1)
        usage_change = np.where(hist_n > 0, usage / np.maximum(prev_mean, 0.05) - 1, np.nan)
        s["usage_hist"][:, slot3] = usage
        s["tick_hist"][:, slot3] = tickets
        s["late_hist"][:, slot6] = late
        tickets_3m = s["tick_hist"].sum(axis=1)
        late_6m = s["late_hist"].sum(axis=1)

        # 4. Cancellation hazard: nonlinear in contract, tenure, risk, service and price signals.
        contract = s["contract"]
        term = contract > 0
        to_end = s["contract_end_k"] - k
        uc = np.nan_to_num(usage_change, nan=0.0)
        price_shock = (k - s["disc_end_k"] >= 0) & (k - s["disc_end_k"] <= 2)
        comp_contract = (
            np.array([1.4, -1.0, -2.0])[contract]
            + 3.0 * (term & (to_end == 0))
            + 0.8 * (term & (to_end == 1))
            + 0.6 * (k - s["lapsed_k"] <= 3)
        )
        comp_service = 1.0 * z + 0.3 * np.minimum(tickets_3m, 6) + 1.5 * np.clip(-uc - 0.15, 0, 0.6)
        comp_price = 1.2 * price_shock + 0.5 * (overage > 15) + 0.4 * np.minimum(late_6m, 4)
        logit = (
            CHURN_BASE
            + comp_contract
            + comp_service
            + comp_price
            + 1.5 * np.exp(-(s["tenure"] - 1) / 5.0)
            + CHURN_SEASON[cm]
            + 0.25 * (s["pay"] == 2)
            - 0.2 * (s["products"] - 1)
            - 0.2 * s["streaming"]
            + 0.3 * rng.standard_normal(n, dtype=_F)
        )
        p_cancel = _sigmoid(logit)
        u_cancel = rng.random(n, dtype=_F)
        cancel = (s["tenure"] >= 1) & (u_cancel < p_cancel)
        replace = int(cancel.sum())

        if k >= 0:
            rows.append(
                {
                    "id": s["id"],
                    "k": k,
                    "plan": plan,
                    "contract": contract.copy(),
                    "contract_end_k": np.where(term, s["contract_end_k"], k),
                    "charges": charges,
                    "total": np.round(s["total"], 2),
                    "usage": usage,
                    "usage_change": usage_change.astype(_F),
                    "calls": calls.astype(_F),
                    "tickets_3m": tickets_3m,
                    "late_6m": late_6m,
                    "products": s["products"],
                    "streaming": s["streaming"],
                    "protection": s["protection"],
                    "discount": s["discount"].copy(),
                    "nps": nps.astype(np.int8),
                    "surveyed": surveyed,
                    "session": session.astype(_F),
                    "logins": logins.astype(np.int32),
                    "satisfaction": satisfaction.astype(_F),
                }
            )
            if cancel.any():
                nc = int(cancel.sum())
                # Reason = the strongest driver, with some noise (what the agent records).
                drivers = np.stack(
                    [
                        comp_price[cancel],
                        comp_service[cancel],
                        np.zeros(nc),
                        comp_contract[cancel] - 0.5,
                        np.full(nc, -0.3),
                        np.full(nc, -0.6),
                    ]
                )
                drivers += 0.7 * rng.gumbel(size=drivers.shape)
                cancels.append(
                    {
                        "id": s["id"][cancel],
                        "k": np.full(nc, k, np.int32),
                        "reason": drivers.argmax(axis=0).astype(np.int8),
                    }
                )

        # 5. Next month's plan change, decided on this month's experience.
        ratio_up = usage / allowance
        lower_allow = PLAN_ALLOWANCE[np.maximum(plan - 1, 0)]
        ratio_down = usage / lower_allow  # would the usage fit into the tier below?
        expiring = (s["disc_left"] == 1) & (s["discount"] > 0)
        up_logit = (
            UPGRADE_BASE
            + 4.5 * np.clip(ratio_up - 0.85, 0, 0.8)
            + 0.35 * s["engagement"]
            - 0.3 * z
            + 0.4 * (overage > 0)
            + UPGRADE_SEASON[cm]
            + 0.3 * (s["products"] > 1)
        )
        down_logit = (
            DOWNGRADE_BASE
            + 2.6 * expiring
            + 0.35 * np.minimum(late_6m, 3)
            + 0.35 * z
            + 3.2 * np.clip(0.75 - ratio_down, 0, 0.75)
            + 0.25 * s["fin_stress"]
            + 0.3 * (s["pay"] == 2)
        )
        p_up = np.where(plan < n_plans - 1, _sigmoid(up_logit), 0.0)
        p_down = np.where(plan > 0, _sigmoid(down_logit), 0.0)
        u = rng.random(n, dtype=_F)
        step_up = np.where(rng.random(n, dtype=_F) < 0.8, 1, 2)
        next_plan = np.where(
            u < p_up, np.minimum(plan + step_up, n_plans - 1), np.where(u < p_up + p_down, plan - 1, plan)
        )
        s["next_plan"] = next_plan.astype(np.int8)

        # 6. End-of-month bookkeeping: promos expire, contracts renew or lapse, add-ons change.
        s["disc_left"] = np.maximum(s["disc_left"] - 1, 0).astype(np.int16)
        expired = (s["disc_left"] == 0) & (s["discount"] > 0)
        s["discount"][expired] = 0
        s["disc_end_k"][expired] = k + 1
        ending = term & (s["contract_end_k"] == k)
        r = rng.random(n, dtype=_F)
        renew_same = ending & (r < 0.5)
        renew_other = ending & (r >= 0.5) & (r < 0.6)
        lapse = ending & (r >= 0.6)
        s["contract_end_k"][renew_same] += CONTRACT_TERM[contract[renew_same]].astype(np.int32)
        s["contract"][renew_other] = 3 - contract[renew_other]  # one-year <-> two-year
        s["contract_end_k"][renew_other] += CONTRACT_TERM[s["contract"][renew_other]].astype(np.int32)
        s["contract"][lapse] = 0
        s["lapsed_k"][lapse] = k + 1
        sign_up = (contract == 0) & (r < 0.006)  # month-to-month customers taking a 1-year deal
        s["contract"][sign_up] = 1
        s["contract_end_k"][sign_up] = k + 12
        r2 = rng.random(n, dtype=_F)
        s["products"] = np.clip(s["products"] + (r2 < 0.004) - ((r2 > 0.004) & (r2 < 0.007)), 1, 4).astype(np.int8)
        r3 = rng.random(n, dtype=_F)
        s["streaming"] = np.where(s["streaming"], r3 > 0.004, r3 < 0.005)
        s["tenure"] += 1
        s["hist_n"] += 1

        if cancel.any():
            state = _take(s, ~cancel)

    return _assemble(rows, changes, cancels, static_parts, m0, end_month, first_month, customers, seed)


# --- table assembly --------------------------------------------------------------------


def _month_dates(m0: np.datetime64, k: np.ndarray) -> np.ndarray:
    return (m0 + k).astype("datetime64[D]").astype("datetime64[s]")


def _cat(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int8), categories=categories)


def _events(parts: list, col, m0: np.datetime64, month_column: str, coded: dict) -> pd.DataFrame:
    """One row per event (plan change, cancellation): customer, month, and coded columns as
    categories; typed even when there is none."""
    if not parts:
        columns = {"customer_id": np.array([], np.int64), month_column: np.array([], "datetime64[s]")}
        return pd.DataFrame({**columns, **{c: _cat(np.array([], np.int8), cats) for c, (_, cats) in coded.items()}})
    columns = {"customer_id": col("id", parts), month_column: _month_dates(m0, col("k", parts))}
    return pd.DataFrame({**columns, **{c: _cat(col(part, parts), cats) for c, (part, cats) in coded.items()}})


def _assemble(
    rows, changes, cancels, static_parts, m0, end_month, first_month, customers, seed
) -> dict[str, pd.DataFrame]:
    def col(name, parts=rows):
        # pop: free each month's piece as soon as it is copied into the full column
        return np.concatenate([p.pop(name) for p in parts])

    k = np.concatenate([np.full(len(p["id"]), p.pop("k"), np.int32) for p in rows])
    contract_end = ((m0 + col("contract_end_k") + 1).astype("datetime64[D]") - 1).astype("datetime64[s]")
    nps = col("nps").astype(np.int16)
    nps_mask = ~col("surveyed")
    customer_months = pd.DataFrame(
        {
            "customer_id": col("id"),
            "snapshot_month": _month_dates(m0, k),
            "plan_code": _cat(col("plan"), PLAN_CODES),
            "contract_type": _cat(col("contract"), CONTRACTS),
            "contract_end_date": contract_end,
            "monthly_charges": col("charges"),
            "total_charges": col("total"),
            "data_usage_gb": np.round(col("usage").astype(np.float64), 2),
            "usage_change_3m": np.round(col("usage_change").astype(np.float64), 4),
            "call_minutes": np.round(col("calls").astype(np.float64), 1),
            "num_support_tickets_3m": col("tickets_3m").astype(np.int16),
            "late_payments_6m": col("late_6m").astype(np.int16),
            "num_products": col("products").astype(np.int16),
            "has_streaming": col("streaming"),
            "has_device_protection": col("protection"),
            "discount_pct": np.round(col("discount").astype(np.float64) * 100, 1),
            "nps_score": pd.arrays.IntegerArray(nps, nps_mask),  # NULL unless surveyed
            "avg_session_minutes": np.round(col("session").astype(np.float64), 2),
            "logins_last_month": col("logins").astype(np.int32),
            "satisfaction_score": np.round(col("satisfaction").astype(np.float64), 1),
        },
        copy=False,
    )  # no block consolidation: avoids a second copy of the largest table

    st = {c: np.concatenate([p[c] for p in static_parts]) for c in _STATIC_COLUMNS}
    customers_df = pd.DataFrame(
        {
            "customer_id": st["id"],
            "signup_month": _month_dates(m0, st["signup_k"]),
            "region": _cat(st["region"], REGIONS),
            "segment": _cat(st["segment"], SEGMENTS),
            "age_band": _cat(st["age"], AGE_BANDS),
            "acquisition_channel": _cat(st["channel"], CHANNELS),
            "payment_method": _cat(st["pay"], PAYMENT_METHODS),
            "paperless_billing": st["paperless"],
            "do_not_contact": st["dnc"],
        }
    )

    plan_changes = _events(
        changes, col, m0, "change_month", {"from_plan_code": ("from", PLAN_CODES), "to_plan_code": ("to", PLAN_CODES)}
    )
    cancellations = _events(cancels, col, m0, "cancel_month", {"reason": ("reason", CANCEL_REASONS)})
    plans = pd.DataFrame(
        {
            "plan_code": PLAN_CODES,
            "plan_name": PLAN_NAMES,
            "tier_rank": np.arange(1, len(PLAN_CODES) + 1, dtype=np.int16),
            "list_price": PLAN_PRICE,
            "data_allowance_gb": np.where(np.isinf(PLAN_ALLOWANCE), np.nan, PLAN_ALLOWANCE),
        }
    )
    data_as_of = pd.DataFrame(
        {
            "as_of_month": [pd.Timestamp(end_month)],
            "first_month": [pd.Timestamp(first_month)],
            "initial_customers": [customers],
            "seed": [seed],
        }
    )
    return {
        "plans": plans,
        "customers": customers_df,
        "customer_months": customer_months,
        "plan_changes": plan_changes,
        "cancellations": cancellations,
        "data_as_of": data_as_of,
    }
