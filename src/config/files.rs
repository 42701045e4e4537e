//! TOML and JSON files, with serde's errors turned into [`ConfigError`]s naming the key path.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{I64Deserializer, MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::value::{StrDeserializer, U64Deserializer};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};

use super::{PolicyConfig, Switch, expected};
use crate::{ConfigError, SecurityLayerBuilder};

impl PolicyConfig {
    /// Reads a TOML document; see the [module docs](crate::config) for its keys.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] whose [`setting`](ConfigError::setting) is the key path of the first
    /// unknown key or value of the wrong form, or `toml` for a document that is not TOML.
    ///
    /// # Example
    ///
    /// ```
    /// use tower_security::config::PolicyConfig;
    ///
    /// let err = PolicyConfig::from_toml("[headers]\nframe_options = \"ALLOW\"").unwrap_err();
    /// assert_eq!(err.setting(), "headers.frame_options");
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let table: toml::Table = toml::from_str(text).map_err(|err| {
            let line = err
                .span()
                .map_or(0, |span| text[..span.start].lines().count().max(1));
            let problem = format!("line {line}: {}", err.message());
            ConfigError::invalid("toml", &problem, "a TOML document")
        })?;

        checked(serde_path_to_error::deserialize(toml::Value::Table(table)))
    }

    /// Reads a JSON document with the same keys as the TOML form.
    ///
    /// # Errors
    ///
    /// As [`from_toml`](Self::from_toml), with `json` for a document that is not JSON.
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|err| ConfigError::invalid("json", &err.to_string(), "a JSON document"))?;

        checked(serde_path_to_error::deserialize(value))
    }

    /// Writes the configuration as a TOML document that [`from_toml`](Self::from_toml) reads
    /// back to an equal value.
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn to_toml(&self) -> String {
        match toml::to_string(self) {
            Ok(text) => text,
            // Every field is a string, number, boolean, list or string-keyed table.
            Err(err) => unreachable!("a PolicyConfig is always valid TOML: {err}"),
        }
    }
}

/// Maps serde's error to the key path, then checks the values' forms as the builder would.
fn checked<E: de::Error>(
    result: Result<PolicyConfig, serde_path_to_error::Error<E>>,
) -> Result<PolicyConfig, ConfigError> {
    let config = result.map_err(|err| {
        let path = err.path().to_string();
        let message = err.inner().to_string();
        match unknown_key(&message) {
            Some(key) => {
                let setting = match path.rsplit('.').next() == Some(key) {
                    true => path.clone(),
                    false => format!("{path}.{key}").trim_start_matches('.').to_owned(),
                };
                ConfigError::unknown(setting, key, "a key listed in the `config` module docs")
            }
            None => ConfigError::wrong_form(&path, expected(&path)),
        }
    })?;
    SecurityLayerBuilder::strict().apply(&config).map(drop)?;

    Ok(config)
}

/// The key serde's derive names in "unknown field `key`, expected ...".
fn unknown_key(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(key, _)| key)
}

impl<T: Serialize> Serialize for Switch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Switch::Off => serializer.serialize_bool(false),
            Switch::On(value) => value.serialize(serializer),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Switch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SwitchVisitor(PhantomData))
    }
}

/// Hands every form but `false` to `T`, through the same map and sequence accessors, so that
/// an error deeper down keeps its key path.
struct SwitchVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for SwitchVisitor<T> {
    type Value = Switch<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("false or a value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        match value {
            false => Ok(Switch::Off),
            true => Err(E::invalid_value(de::Unexpected::Bool(true), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        T::deserialize(I64Deserializer::new(value)).map(Switch::On)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        T::deserialize(U64Deserializer::new(value)).map(Switch::On)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        T::deserialize(StrDeserializer::new(value)).map(Switch::On)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::deserialize(SeqAccessDeserializer::new(seq)).map(Switch::On)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Switch::On)
    }
}
