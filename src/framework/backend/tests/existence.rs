//! Existence checks: which routes have one, and what it answers before and after a write.

use super::*;

#[tokio::test]
async fn existence_check_results() {
    let (b, s) = (backend(), storage());
    let check = |op, path: &str| b.handle_existence_check(req(op, path, &s));
    assert_eq!(
        check(Operation::Update, "keys/k1").await.unwrap(),
        ExistenceResult {
            check_found: true,
            exists: false
        }
    );
    call_write(&b, &s).await;
    assert_eq!(
        check(Operation::Update, "keys/k1").await.unwrap(),
        ExistenceResult {
            check_found: true,
            exists: true
        }
    );
    assert_eq!(
        check(Operation::Create, "config").await.unwrap(),
        ExistenceResult {
            check_found: false,
            exists: false
        }
    );
    assert_eq!(
        check(Operation::Update, "nope").await.unwrap_err(),
        Error::UnsupportedPath
    );
    assert_eq!(
        check(Operation::Read, "keys/k1")
            .await
            .unwrap_err()
            .status(),
        500
    );
    // A bad field value does not fail the check (the handler gives the 400): the host would
    // log a failed existence check at ERROR.
    let bad = req(Operation::Update, "keys/k1", &s).with_data(json!({"ttl": "soon"}));
    assert_eq!(
        b.handle_existence_check(bad).await.unwrap(),
        ExistenceResult {
            check_found: true,
            exists: true
        }
    );
    let bad = req(Operation::Update, "keys/k1", &s).with_data(json!({"ttl": "soon"}));
    assert_eq!(b.handle_request(bad).await.unwrap_err().status(), 400);
}
