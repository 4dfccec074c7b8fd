"""The XGBoost parameters a model's `params` may set, as a section of the schema."""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from churn_assets.catalog.errors import suggestion
from churn_assets.catalog.values import check, typed

# Named parameters of xgboost.XGBClassifier a catalogue may set, with the type each takes
# (checked against xgboost's own signature by a unit test). Set by the pipeline, never here:
# random_state (the model's `seed`), n_jobs, enable_categorical, objective.
XGBOOST_PARAMS: dict[str, type | tuple[type, ...]] = {
    **dict.fromkeys(
        [
            "n_estimators",
            "max_depth",
            "max_leaves",
            "max_bin",
            "num_parallel_tree",
            "max_cat_to_onehot",
            "max_cat_threshold",
            "verbosity",
        ],
        int,
    ),
    **dict.fromkeys(
        [
            "learning_rate",
            "gamma",
            "min_child_weight",
            "max_delta_step",
            "subsample",
            "colsample_bytree",
            "colsample_bylevel",
            "colsample_bynode",
            "reg_alpha",
            "reg_lambda",
            "scale_pos_weight",
            "base_score",
        ],
        (int, float),
    ),
    **dict.fromkeys(
        ["grow_policy", "booster", "tree_method", "sampling_method", "eval_metric", "importance_type", "device"],
        str,
    ),
    "monotone_constraints": (str, dict),
    "interaction_constraints": (str, list),
    "validate_parameters": bool,
}
PIPELINE_PARAMS = {"seed", "random_state", "nthread", "n_jobs", "enable_categorical", "objective"}


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_parameters(cls, data: Any) -> Any:
        """Refuses what the pipeline sets and what XGBoost does not know, before any value is read."""
        for key in typed(data, (dict,)):
            if key in PIPELINE_PARAMS:
                raise ValueError(f"'{key}' is set by the pipeline (use the model's 'seed' key)")
            if key not in XGBOOST_PARAMS:
                raise ValueError(
                    f"'{key}' is not a parameter of xgboost.XGBClassifier; {suggestion(key, XGBOOST_PARAMS, 'known')}"
                )
        return data

    def given(self) -> dict[str, Any]:
        """The parameters the catalogue sets, as given (1 stays 1, 0.1 stays 0.1)."""
        return {key: getattr(self, key) for key in XGBOOST_PARAMS if key in self.model_fields_set}


def _field(kinds: type | tuple[type, ...]) -> tuple[Any, Any]:
    """A parameter's type, and its field: optional but never null (so the JSON Schema shows no default),
    titled with its type as the reference shows it ("whole number", "text or list")."""
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    names = {int: "whole number", str: "text", bool: "boolean"}
    title = "number" if kinds == (int, float) else " or ".join(names.get(k, k.__name__) for k in kinds)
    return Annotated[reduce(or_, kinds), check(*kinds)], Field(None, title=title, json_schema_extra=_no_default)


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default")


XGBoostParams = create_model(
    "XGBoostParams",
    __base__=_Params,
    __doc__="Named parameters of xgboost.XGBClassifier.",
    **{key: _field(kinds) for key, kinds in XGBOOST_PARAMS.items()},
)
