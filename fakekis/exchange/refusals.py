"""KIS's answers to trading calls, as data: (rt_cd, msg_cd, msg1) per environment.

Sources: docs/kis/endpoints.md §B1, §B2, §B8 and §0.1. Codes nobody has captured are marked `INF` here and
in docs/paper-trading.md; each is our choice of a code in the same family, so a client that branches on
`rt_cd` behaves, and one that matches an exact `msg_cd` is told in the docs which ones are guesses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Answer:
    rt_cd: str
    msg_cd: str
    msg1: str
    inferred: bool = False

    def body(self) -> dict[str, object]:
        return {"rt_cd": self.rt_cd, "msg_cd": self.msg_cd, "msg1": self.msg1}


def _both(live: Answer, mock: Answer) -> dict[str, Answer]:
    return {"live": live, "mock": mock}


ANSWERS: dict[str, dict[str, Answer]] = {
    # accepted (§B1, §B2)
    "buy": _both(
        Answer("0", "APBK0013", "주문 전송 완료 되었습니다."),
        Answer("0", "40600000", "모의투자 매수주문이 완료 되었습니다."),
    ),
    "sell": _both(
        Answer("0", "APBK0013", "주문 전송 완료 되었습니다."),
        Answer("0", "40590000", "모의투자 매도주문이 완료 되었습니다."),
    ),
    "cancel": _both(
        Answer("0", "APBK0013", "주문 전송 완료 되었습니다."),
        Answer("0", "40630000", "모의투자 취소주문이 완료 되었습니다."),
    ),
    "modify": _both(
        Answer("0", "APBK0013", "주문 전송 완료 되었습니다."),
        Answer(
            "0", "40640000", "모의투자 정정주문이 완료 되었습니다.", inferred=True
        ),  # msg1 reported, code INF
    ),
    # refusals (§B8)
    "cash": _both(
        Answer("7", "APBK0952", "주문가능금액을 초과 했습니다"),
        Answer("1", "40250000", "모의투자 주문가능금액이 부족합니다."),
    ),
    "holdings": _both(
        Answer("7", "APBK0400", "주문 가능한 수량을 초과하였습니다.", inferred=True),
        Answer("1", "40240000", "모의투자 잔고가 부족합니다.", inferred=True),
    ),
    "tick": _both(
        Answer("7", "APBK0506", "주식주문호가단위 오류입니다.", inferred=True),  # msg1 reported, code INF
        Answer("1", "40030000", "모의투자 주문처리가 안되었습니다(호가단위 오류)"),
    ),
    "limits": _both(
        Answer("7", "APBK0507", "주문가격이 상하한가를 벗어났습니다.", inferred=True),
        Answer("1", "40040000", "모의투자 주문처리가 안되었습니다(상하한가 오류)", inferred=True),
    ),
    "after": _both(
        Answer("7", "APBK0918", "장운영시간이 아닙니다.(주문불가)"),
        Answer("1", "40580000", "모의투자 장종료 입니다."),
    ),
    "before": _both(
        Answer("7", "APBK0918", "장운영시간이 아닙니다.(주문불가)"),
        Answer("1", "40570000", "모의투자 장시작전 입니다.", inferred=True),  # msg1 reported, code INF
    ),
    "closed": _both(
        Answer("7", "APBK0919", "장운영일자가 주문일과 상이합니다"),
        Answer("1", "40100000", "모의투자 영업일이 아닙니다."),
    ),
    "nothing": _both(
        Answer("7", "APBK0927", "정정취소 가능수량이 없습니다."),
        Answer("1", "40330000", "모의투자 정정/취소할 수량이 없습니다."),
    ),
    "dvsn": _both(
        Answer("7", "APBK0963", "주문구분코드 오류 입니다."),
        Answer("1", "40090000", "모의투자 주문처리가 안되었습니다(주문구분 오류)", inferred=True),
    ),
    "symbol": _both(
        Answer("7", "APBK0656", "매매불가 종목입니다.", inferred=True),  # meaning disputed (§8 #17)
        Answer("1", "40070000", "모의투자 주문처리가 안되었습니다(매매불가 종목)", inferred=True),
    ),
    "venue": _both(
        Answer("7", "APBK1664", "해당 거래소에서 주문할 수 없는 주문구분입니다.", inferred=True),
        Answer("1", "40080000", "모의투자는 KRX만 가능합니다.", inferred=True),  # doc text, code INF
    ),
    "body": _both(
        Answer("1", "IGW00007", "MCA 전문바디 구성 중 오류가 발생하였습니다."),
        Answer("1", "IGW00007", "MCA 전문바디 구성 중 오류가 발생하였습니다."),
    ),
    # account queries (§0.1)
    "query": _both(
        Answer("0", "KIOK0510", "조회가 완료되었습니다"),
        Answer("0", "20310000", "모의투자 조회가 완료되었습니다."),
    ),
    "query_more": _both(
        Answer("0", "KIOK0500", "조회가 계속됩니다..다음버튼을 Click 하십시오."),
        Answer("0", "20310000", "모의투자 조회가 완료되었습니다."),
    ),
}


def answer(kind: str, env: str) -> Answer:
    return ANSWERS[kind][env]


def pad80(msg: str) -> str:
    """Ledger answers pad msg1 with spaces to 80 bytes counted in EUC-KR (§0.1)."""
    return msg + " " * max(0, 80 - len(msg.encode("euc-kr", "replace")))
