"""Ronglian ``statusCode`` values: which are permanent, which transient, and why.

Source: Ronglian's REST error-code list (the "错误码" page of the cloud communication
docs, formerly ``yuntongxun.com/doc/rest/restabout/3_1_1_7.html``, now on
``doc.yuntongxun.com``), read as reproduced in public integrations of the API, e.g.
``jinyicheng/cloopen`` (``Sms.php``) and ``YuntxSmsController.php`` (which cites that
page). The table and the reasoning are in ``docs/ronglian.md``.

Permanent means the same message to the same number would fail at any connector: the
number is malformed, blocked or unsubscribed, or the template is not approved (as the
issue asks; Aliyun's connector treats its template errors the same way). Everything
else (limits, the account's balance or state, our signature, this connector's app or
template set-up, the platform) is transient: another connector may succeed. Codes not
listed here are transient too.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

SUCCESS = "000000"

# statusCode -> our reason. The Chinese text is the platform's own statusMsg.
PERMANENT: dict[str, str] = {
    "160042": "invalid_number",  # 号码格式有误
    "160013": "invalid_number",  # 号码格式不对, 或者该号码不支持
    "112316": "invalid_number",  # 接收短信的多个号码格式错误
    "160034": "blacklisted",  # 号码黑名单
    "112317": "blacklisted",  # 号码在黑名单中
    "160072": "blacklisted",  # 关键号码黑名单
    "160073": "blacklisted",  # 运营商投诉号码黑名单
    "160074": "blacklisted",  # 高危投诉号码黑名单
    "160051": "unsubscribed",  # 营销退订号码
    "160068": "unsubscribed",  # 平台全部退订号码黑名单
    "160032": "template_rejected",  # 短信模板无效
    "112323": "template_rejected",  # 短信模板不存在或审核未通过
}

TRANSIENT: dict[str, str] = {
    # limits: per number, per template, per account
    "160038": "throttled",  # 短信验证码发送过频繁
    "160039": "throttled",  # 发送数量超出同模板同号天发送次数上限
    "160040": "throttled",  # 验证码超出同模板同号码天发送上限
    "160041": "throttled",  # 通知超出同模板同号码天发送上限
    "160056": "throttled",  # 同号码请求内容重复
    "112314": "throttled",  # 短信下发超过当日发送限制
    "111111": "throttled",  # 超过规定的并发数
    # the account: balance, state, permissions
    "111142": "account",  # 主账户余额不足
    "160014": "account",  # 短信通道余额不足
    "111138": "account",  # 主账户未激活
    "111139": "account",  # 主账户已暂停
    "111140": "account",  # 主账户已关闭
    "111141": "account",  # 主账户不存在
    "112303": "account",  # 应用未开通短信功能
    "111177": "account",  # 应用被禁用
    "111180": "account",  # 应用被暂停
    "160053": "account",  # IP鉴权失败
    "160058": "account",  # 账户无国际短信权限
    "160061": "account",  # 暂不支持的国家码号
    "160062": "account",  # 未开通此国家码号
    # our credentials or signature (a wrong authToken ends here)
    "111100": "auth",  # 请求URL账号格式不正确
    "111101": "auth",  # 请求包头Authorization参数为空
    "111102": "auth",  # 请求包头Authorization参数Base64解码失败
    "111103": "auth",  # 请求包头Authorization参数解码后格式有误
    "111104": "auth",  # 请求包头Authorization参数解码后账户ID为空
    "111105": "auth",  # 请求包头Authorization参数解码后时间戳为空
    "111106": "auth",  # 请求包头Authorization参数解码后时间戳过期
    "111107": "auth",  # 请求包头Authorization参数中账户ID跟请求地址中的账户ID不一致
    "111108": "auth",  # 请求地址Sig参数为空
    "111109": "auth",  # 请求地址Sig校验失败
    "111113": "auth",  # 请求包头Authorization参数中时间戳格式有误
    "111143": "auth",  # 主账号授权令牌无效
    # this connector's app or template set-up (another connector may be right)
    "111181": "misconfigured",  # 应用不存在
    "111182": "misconfigured",  # 应用不属于主账户
    "112310": "misconfigured",  # 应用未上线, 模板短信接收号码外呼受限 (test mode)
    "113302": "misconfigured",  # 测试模板且短信接收者不是注册的测试号码
    "112311": "misconfigured",  # 短信模板不存在
    "160043": "misconfigured",  # 应用与模板id不匹配
    "160036": "misconfigured",  # 短信模板类型未知
    "160057": "misconfigured",  # 短信模板ID要求为数字
    "160052": "misconfigured",  # 模板变量格式有误
    "160031": "misconfigured",  # 参数解析失败
    # content refused by this platform's word lists
    "160033": "content_rejected",  # 短信存在黑词
    "160049": "content_rejected",  # 短信内容含敏感词
    # the platform
    "160000": "unavailable",  # 系统错误
    "160050": "unavailable",  # 短信发送失败
    "160063": "unavailable",  # 短信发送失败
    "160064": "unavailable",  # 短信发送失败
    "111000": "unavailable",  # 未知错误
}

# Documented ranges: 111001-111099 内部错误, 160001-160010 短信通道繁忙.
TRANSIENT_RANGES: tuple[tuple[int, int, str], ...] = (
    (111001, 111099, "unavailable"),
    (160001, 160010, "unavailable"),
)

REASON_MESSAGES: dict[str, Any] = {
    "invalid_number": _("The phone number is not valid."),
    "blacklisted": _("The phone number is on a blocklist."),
    "unsubscribed": _("The phone number has unsubscribed from these messages."),
    "template_rejected": _("The SMS template is not approved."),
    "throttled": _("A sending limit was reached."),
    "account": _("The provider account cannot send (balance, state or permissions)."),
    "auth": _("The provider refused the connector's credentials or signature."),
    "misconfigured": _("The connector's application or template is set up wrongly."),
    "content_rejected": _("The provider refused the message content."),
    "unavailable": _("The provider is unavailable."),
    "unknown": _("The provider refused the message."),
}


def classify(status_code: str) -> tuple[bool, str]:
    """``(permanent, reason)`` for a failed ``statusCode``; unknown codes are transient."""
    if status_code in PERMANENT:
        return True, PERMANENT[status_code]
    if status_code in TRANSIENT:
        return False, TRANSIENT[status_code]
    if status_code.isdigit():
        number = int(status_code)
        for low, high, reason in TRANSIENT_RANGES:
            if low <= number <= high:
                return False, reason
    return False, "unknown"
