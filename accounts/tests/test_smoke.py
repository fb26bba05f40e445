def test_signin_returns_tokens(api_client, customer):
    response = api_client.post("/api/v1/auth/signin", {"email": "ASHA@example.com", "password": "Correct-Horse-42"})
    assert response.status_code == 200, response.json()
    assert response.json()["user"]["email"] == "asha@example.com"
