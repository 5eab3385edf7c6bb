//! The catalog's images on the engine: which are there, and preparing (pulling) one that is
//! not, for the diagnostics screen.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::events::Progress;
use crate::{App, Error};

/// One catalog language's image and whether the engine has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct ImageState {
    /// Catalog id.
    pub language: String,
    /// Shown to people.
    pub name: String,
    /// The image reference.
    pub image: String,
    /// Whether the engine has it (rooms of this language start without a pull).
    pub present: bool,
}

impl App {
    /// Every catalog language with its image's presence on the engine.
    pub async fn images(&self) -> Result<Vec<ImageState>, Error> {
        let rt = self.runtime().await?;
        let mut out = Vec::new();
        for lang in self.catalog().languages() {
            out.push(ImageState {
                language: lang.id.clone(),
                name: lang.name.clone(),
                image: lang.image.clone(),
                present: rt.has_image(&lang.image).await?,
            });
        }
        Ok(out)
    }

    /// Pulls a catalog language's image, telling `progress` how it goes. Only images of the
    /// catalog may be prepared this way.
    pub async fn prepare_image(
        &self,
        language: &str,
        progress: Option<tokio::sync::mpsc::Sender<Progress>>,
    ) -> Result<ImageState, Error> {
        let lang = self
            .catalog()
            .get(language)
            .ok_or_else(|| Error::UnknownLanguage {
                id: language.to_string(),
                known: self.catalog().ids().join(", "),
            })?
            .clone();
        let rt = self.runtime().await?;
        let say = |p: Progress| {
            if let Some(tx) = &progress {
                let _ = tx.try_send(p);
            }
        };
        say(Progress::at(0.0, format!("pulling {}", lang.image)));
        let mut layers = std::collections::BTreeMap::<String, bool>::new();
        rt.ensure_image(&lang.image, |line| {
            // Lines look like "<layer> Downloading" … "<layer> Pull complete".
            if let Some((layer, what)) = line.split_once(' ') {
                if layer.len() == 12 && layer.chars().all(|c| c.is_ascii_hexdigit()) {
                    let done = what.contains("complete") || what.contains("Already exists");
                    let e = layers.entry(layer.to_string()).or_default();
                    *e |= done;
                }
            }
            let total = layers.len().max(1) as f32;
            let done = layers.values().filter(|d| **d).count() as f32;
            say(Progress::at(0.05 + 0.9 * done / total, line.to_string()));
        })
        .await?;
        say(Progress::at(1.0, format!("{} is ready", lang.image)));
        Ok(ImageState {
            language: lang.id,
            name: lang.name,
            image: lang.image,
            present: true,
        })
    }
}
