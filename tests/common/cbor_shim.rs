//! CloudWatch's PutMetricData as the Rust SDK sends it (Smithy RPC v2 CBOR) turned into the
//! query protocol that moto's server (5.2.5) still speaks, and moto's answer turned back. Only
//! the encoding changes: the data moto stores is what itemsd sent.

use std::net::SocketAddr;

use bytes::Bytes;
use ciborium::Value;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

use super::stand_in::{upstream, StandIn, Upstream};

pub struct CborShim {
    pub addr: SocketAddr,
}

/// The key a rewritten request is signed with again, for a moto that checks signatures (the
/// rewritten body no longer matches the SDK's).
#[derive(Clone)]
pub struct Signer {
    pub access_key: String,
    pub secret_key: String,
}

impl CborShim {
    pub async fn start(moto: SocketAddr) -> Self {
        Self::start_signing(moto, None).await
    }

    pub async fn start_signing(moto: SocketAddr, signer: Option<Signer>) -> Self {
        let client = upstream();
        let stand_in = StandIn::serve(move |req| {
            let (client, signer) = (client.clone(), signer.clone());
            async move { handle(client, moto, signer.as_ref(), req).await }
        })
        .await;
        Self {
            addr: stand_in.addr,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn field<'a>(map: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => i128::from(*i).to_string().parse().ok(),
        _ => None,
    }
}

/// The query-protocol form of a PutMetricData request.
fn to_query(body: &[u8]) -> Option<String> {
    let value: Value = ciborium::from_reader(body).ok()?;
    let map = value.as_map()?;
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", "PutMetricData");
    form.append_pair("Version", "2010-08-01");
    form.append_pair("Namespace", field(map, "Namespace")?.as_text()?);
    for (i, datum) in field(map, "MetricData")?.as_array()?.iter().enumerate() {
        let d = datum.as_map()?;
        let p = format!("MetricData.member.{}", i + 1);
        form.append_pair(
            &format!("{p}.MetricName"),
            field(d, "MetricName")?.as_text()?,
        );
        if let Some(unit) = field(d, "Unit").and_then(Value::as_text) {
            form.append_pair(&format!("{p}.Unit"), unit);
        }
        if let Some(v) = field(d, "Value").and_then(number) {
            form.append_pair(&format!("{p}.Value"), &v.to_string());
        }
        for (list, name) in [("Values", "Values"), ("Counts", "Counts")] {
            for (j, v) in field(d, list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                form.append_pair(
                    &format!("{p}.{name}.member.{}", j + 1),
                    &number(v)?.to_string(),
                );
            }
        }
        for (j, dim) in field(d, "Dimensions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let dim = dim.as_map()?;
            let q = format!("{p}.Dimensions.member.{}", j + 1);
            form.append_pair(&format!("{q}.Name"), field(dim, "Name")?.as_text()?);
            form.append_pair(&format!("{q}.Value"), field(dim, "Value")?.as_text()?);
        }
    }
    Some(form.finish())
}

fn cbor_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut bytes = Vec::new();
    let _ = ciborium::into_writer(&body, &mut bytes);
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/cbor"),
    );
    resp.headers_mut().insert(
        "smithy-protocol",
        http::HeaderValue::from_static("rpc-v2-cbor"),
    );
    resp
}

/// Signs `req` afresh (SigV4, CloudWatch's signing name), replacing the SDK's signature.
fn sign(req: &mut Request<Full<Bytes>>, body: &[u8], signer: &Signer) -> Option<()> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(
        &signer.access_key,
        &signer.secret_key,
        None,
        None,
        "test",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(super::moto::REGION)
        .name("monitoring")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .ok()?
        .into();
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let uri = req.uri().to_string();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .ok()?;
    let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
        .ok()?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Some(())
}

async fn handle(
    client: Upstream,
    moto: SocketAddr,
    signer: Option<&Signer>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let is_cbor = parts.headers.get("smithy-protocol").is_some();
    let (uri, content_type, forwarded) = if is_cbor && parts.uri.path().ends_with("/PutMetricData")
    {
        match to_query(&body) {
            Some(query) => (
                format!("http://{moto}/"),
                "application/x-www-form-urlencoded".to_owned(),
                Bytes::from(query),
            ),
            None => {
                return cbor_response(
                    StatusCode::BAD_REQUEST,
                    Value::Map(vec![(
                        Value::Text("__type".into()),
                        Value::Text("InvalidParameterValueException".into()),
                    )]),
                )
            }
        }
    } else {
        (
            format!(
                "http://{moto}{}",
                parts.uri.path_and_query().map_or("/", |p| p.as_str())
            ),
            parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            body,
        )
    };
    let resign = is_cbor.then_some(signer).flatten();
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (k, v) in &parts.headers {
        let signature = k == "authorization" || k.as_str().starts_with("x-amz-");
        if k != "content-type"
            && k != "content-length"
            && k != "smithy-protocol"
            && !(resign.is_some() && (signature || k == "host"))
        {
            forward = forward.header(k, v);
        }
    }
    forward = forward.header("content-type", content_type);
    if resign.is_some() {
        forward = forward.header("host", moto.to_string());
    }
    let Ok(mut forward) = forward.body(Full::new(forwarded.clone())) else {
        return cbor_response(StatusCode::INTERNAL_SERVER_ERROR, Value::Map(vec![]));
    };
    if let Some(signer) = resign {
        if sign(&mut forward, &forwarded, signer).is_none() {
            return cbor_response(StatusCode::INTERNAL_SERVER_ERROR, Value::Map(vec![]));
        }
    }
    let Ok(resp) = client.request(forward).await else {
        return cbor_response(StatusCode::BAD_GATEWAY, Value::Map(vec![]));
    };
    if !is_cbor {
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Response::from_parts(parts, Full::new(body));
    }
    let status = resp.status();
    cbor_response(status, Value::Map(vec![]))
}
