"""The product master as `search-info` (상품기본조회, CTPF1604R) sees it: which codes exist and what
they are called. python-kis calls it for every `kis.stock(code)` before anything else.

A product is known when a recording's `session.json` names it under `products`, when it is one of the
few listed companies below, or when the tape trades it (then it gets a neutral placeholder name, so a
synthetic code still resolves). Anything else is "no data" (rt_cd 7), which python-kis reads as
"not found".

Field names follow the CTPF1604R output column list. Values we have no capture of are INF:
`pdno` uses the 12-character account-API form (`00000A` + code, seen in balance captures);
`shtn_pdno` is the 6-digit code (python-kis takes the stock's symbol from it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DOMESTIC_STOCK = "300"  # PRDT_TYPE_CD for KRX stocks, ETFs and ETNs


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    name: str
    name_eng: str
    listed: str = ""  # YYYYMMDD of first listing, "" when not known

    def output(self) -> dict[str, str]:
        """The CTPF1604R `output` object, every value a string."""
        return {
            "pdno": "00000A" + self.code,
            "prdt_type_cd": DOMESTIC_STOCK,
            "prdt_name": self.name,
            "prdt_name120": self.name,
            "prdt_abrv_name": self.name,
            "prdt_eng_name": self.name_eng,
            "prdt_eng_name120": self.name_eng,
            "prdt_eng_abrv_name": self.name_eng,
            "std_pdno": isin(self.code),
            "shtn_pdno": self.code,
            "prdt_sale_stat_cd": "",
            "prdt_risk_grad_cd": "",
            "prdt_clsf_cd": "",
            "prdt_clsf_name": "",
            "sale_strt_dt": self.listed,
            "sale_end_dt": "",
            "wrap_asst_type_cd": "",
            "ivst_prdt_type_cd": "",
            "ivst_prdt_type_cd_name": "",
            "frst_erlm_dt": self.listed,
        }


# Public facts about a few large KRX listings (the bundled recording trades the first three).
LISTED: dict[str, Product] = {
    p.code: p
    for p in (
        Product("005930", "삼성전자", "Samsung Electronics", "19750611"),
        Product("000660", "SK하이닉스", "SK hynix", "19961226"),
        Product("035720", "카카오", "Kakao", "20171110"),
        Product("035420", "NAVER", "NAVER", "20081129"),
        Product("005380", "현대차", "Hyundai Motor", "19740628"),
    )
}


def isin(code: str) -> str:
    """KR7 + code + 00 + check digit: the ISIN of a KRX common share (e.g. 005930 -> KR7005930003)."""
    body = "KR7" + code + "00"
    digits = "".join(str(int(ch, 36)) for ch in body)  # letters become two digits (K=20, R=27)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return body + str((10 - total % 10) % 10)


class Catalogue:
    """code -> Product for one fakekis run (shared by both environments)."""

    def __init__(
        self, traded: Iterable[str] = (), named: Mapping[str, Mapping[str, str]] | None = None
    ) -> None:
        self._products: dict[str, Product] = {}
        for code in traded:
            self._products[code] = LISTED.get(code) or Product(code, f"종목{code}", f"STOCK {code}")
        for code, info in (named or {}).items():
            self._products[code] = Product(
                code, info["name"], info.get("name_eng", info["name"]), info.get("listed", "")
            )

    def name(self, code: str) -> str:
        """The Korean name (`hts_kor_isnm` in chart answers); "" for a code nobody named or traded."""
        product = self._products.get(code) or LISTED.get(code)
        return product.name if product else ""

    def search_info(self, code: str, product_type: str) -> dict[str, str] | None:
        """The output for (PDNO, PRDT_TYPE_CD), or None when KIS would find nothing."""
        product = self._products.get(code) or LISTED.get(code)
        if product is None or product_type != DOMESTIC_STOCK:
            return None
        return product.output()
