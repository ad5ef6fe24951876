import django_sms_verify
from tests.conftest import CHECK_URL, PHONE_CN, REQUEST_URL, last_code


def test_request_check_consume(api, connector):
    response = api.post(REQUEST_URL, {"phone": PHONE_CN, "usage_type": "SignIn"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    code = last_code()
    response = api.post(CHECK_URL, {"phone": PHONE_CN, "usage_type": "SignIn", "code": code}, format="json")
    assert response.status_code == 200, response.content
    token = response.json()["verification_token"]
    assert django_sms_verify.consume_verification_token(token, usage_type="SignIn") == PHONE_CN
