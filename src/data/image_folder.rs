//! Image folders in torchvision's `ImageFolder` layout: `DIR/train/<class>/*.png|jpg|jpeg|bmp`,
//! `DIR/test/<class>/…` and optionally `DIR/val/<class>/…`. Classes are the training folder's
//! sub-folders in sorted order (class k is the k-th name, as torchvision numbers them); the
//! other splits must use those names. Files with other extensions are ignored, as torchvision
//! does. Each image is decoded with the `image` crate to grey or RGB (grey when every image is
//! grey, unless `channels` says), resized to `size` when given (bilinear, as torchvision's
//! `Resize`), and stored as one row of C·H·W values in [0, 1], channel-major.

use super::{Dataset, Targets};
use crate::error::{file_error, Error, Result};
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};

/// The extensions read (any letter case).
pub const EXTENSIONS: [&str; 4] = ["png", "jpg", "jpeg", "bmp"];

/// What to do with a file that does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBadImage {
    /// Leave it out, name it in the report.
    Skip,
    /// Stop with an error naming it.
    Error,
}

impl std::str::FromStr for OnBadImage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "skip" => Ok(OnBadImage::Skip),
            "error" => Ok(OnBadImage::Error),
            other => Err(Error::InvalidArgument {
                what: "on_bad_image".into(),
                detail: format!("unknown {other:?}; expected skip or error"),
            }),
        }
    }
}

/// How to read a folder.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageOptions {
    /// Resize every image to (height, width); None: all must already share one size.
    pub size: Option<[usize; 2]>,
    /// 1 (grey) or 3 (RGB); None: grey when every image is grey, else RGB.
    pub channels: Option<usize>,
    /// Undecodable files.
    pub on_bad: OnBadImage,
}

/// A folder read: its splits, class names and image geometry.
#[derive(Debug)]
pub struct ImageFolder {
    /// `train/`.
    pub train: Dataset,
    /// `val/`, when there is one.
    pub val: Option<Dataset>,
    /// `test/`.
    pub test: Dataset,
    /// Class names, class k first-to-last in sorted order.
    pub classes: Vec<String>,
    /// Channels, height, width of every row.
    pub shape: [usize; 3],
    /// Files left out (undecodable, with `OnBadImage::Skip`) and why.
    pub skipped: Vec<(PathBuf, String)>,
}

/// True when `dir` looks like an image folder: a `train/` holding sub-folders.
pub fn is_image_folder(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("train")).is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| e.path().is_dir())))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| file_error(dir, format!("cannot read the folder: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    paths.sort();
    Ok(paths)
}

fn is_image(p: &Path) -> bool {
    p.is_file()
        && p.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The image files of each class folder of `split`, by class index.
fn list_split(split: &Path, classes: &[String]) -> Result<Vec<(PathBuf, u32)>> {
    let mut files = Vec::new();
    for dir in sorted_entries(split)?.into_iter().filter(|p| p.is_dir()) {
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Some(k) = classes.iter().position(|c| *c == name) else {
            return Err(file_error(
                &dir,
                format!("class {name:?} is not one of the training classes ({})", classes.join(", ")),
            ));
        };
        files.extend(sorted_entries(&dir)?.into_iter().filter(|p| is_image(p)).map(|p| (p, k as u32)));
    }
    Ok(files)
}

/// Reads the folder `dir` (see the module documentation).
pub fn read(dir: &Path, opts: &ImageOptions) -> Result<ImageFolder> {
    if let Some(c) = opts.channels.filter(|c| ![1, 3].contains(c)) {
        return Err(Error::InvalidArgument {
            what: "channels".into(),
            detail: format!("{c}; expected 1 (grey) or 3 (RGB)"),
        });
    }
    let train_dir = dir.join("train");
    let classes: Vec<String> = sorted_entries(&train_dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .map(|p| p.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default())
        .collect();
    if classes.len() < 2 {
        return Err(file_error(
            &train_dir,
            format!(
                "holds {} class folder(s) ({}); a classifier needs at least two, one folder of images per class",
                classes.len(),
                classes.join(", ")
            ),
        ));
    }
    let train_files = list_split(&train_dir, &classes)?;
    for (k, name) in classes.iter().enumerate() {
        if !train_files.iter().any(|(_, c)| *c as usize == k) {
            return Err(file_error(
                train_dir.join(name),
                format!("class {name:?} has no images ({} files are read)", EXTENSIONS.join(", ")),
            ));
        }
    }
    let test_dir = dir.join("test");
    if !test_dir.is_dir() {
        return Err(file_error(dir, "has train/ but no test/: the image-folder layout needs both (val/ is optional)"));
    }
    let test_files = list_split(&test_dir, &classes)?;
    let val_dir = dir.join("val");
    let val_files = if val_dir.is_dir() { Some(list_split(&val_dir, &classes)?) } else { None };

    let mut skipped = Vec::new();
    let mut decode = |files: &[(PathBuf, u32)]| -> Result<Vec<(PathBuf, u32, image::DynamicImage)>> {
        let mut out = Vec::with_capacity(files.len());
        for (path, k) in files {
            match image::open(path) {
                Ok(img) => out.push((path.clone(), *k, img)),
                Err(e) if opts.on_bad == OnBadImage::Skip => skipped.push((path.clone(), e.to_string())),
                Err(e) => {
                    return Err(file_error(
                        path,
                        format!("cannot decode the image ({e}); --on-bad-image skip leaves such files out"),
                    ))
                }
            }
        }
        Ok(out)
    };
    let train = decode(&train_files)?;
    let test = decode(&test_files)?;
    let val = val_files.as_deref().map(&mut decode).transpose()?;

    let all = || train.iter().chain(&test).chain(val.iter().flatten());
    let channels = match opts.channels {
        Some(c) => c,
        None if all().all(|(_, _, img)| !img.color().has_color()) => 1,
        None => 3,
    };
    let [height, width] = match opts.size {
        Some(s) => s,
        None => {
            let (first, _, img) = all().next().ok_or_else(|| file_error(dir, "no image decoded"))?;
            let (w, h) = (img.width(), img.height());
            if let Some((other, _, o)) = all().find(|(_, _, o)| (o.width(), o.height()) != (w, h)) {
                return Err(file_error(
                    dir,
                    format!(
                        "images differ in size: {} is {w}×{h}, {} is {}×{}; pass --image-size H,W to resize them",
                        first.display(),
                        other.display(),
                        o.width(),
                        o.height()
                    ),
                ));
            }
            [h as usize, w as usize]
        }
    };
    if height == 0 || width == 0 {
        return Err(Error::InvalidArgument {
            what: "image_size".into(), detail: format!("{height}×{width} is empty")
        });
    }
    let to_set = |images: &[(PathBuf, u32, image::DynamicImage)]| -> Result<Dataset> {
        let per = channels * height * width;
        let mut x = Vec::with_capacity(images.len() * per);
        for (_, _, img) in images {
            let img = if (img.width() as usize, img.height() as usize) == (width, height) {
                img.clone()
            } else {
                img.resize_exact(width as u32, height as u32, image::imageops::FilterType::Triangle)
            };
            let (pixels, c) =
                if channels == 1 { (img.to_luma8().into_raw(), 1) } else { (img.to_rgb8().into_raw(), 3) };
            for ch in 0..c {
                x.extend(pixels.iter().skip(ch).step_by(c).map(|&v| f32::from(v) / 255.0));
            }
        }
        let labels = images.iter().map(|(_, k, _)| *k).collect();
        Dataset::new(Tensor::from_vec(&[images.len(), per], x)?, Targets::Labels { labels, classes: classes.len() })
    };
    Ok(ImageFolder {
        train: to_set(&train)?,
        val: val.as_deref().map(to_set).transpose()?,
        test: to_set(&test)?,
        classes: classes.clone(),
        shape: [channels, height, width],
        skipped,
    })
}

/// Images to predict on, read as the model's training images were (`shape`: channels,
/// height, width; resized when they differ): one file, or every image file directly in a
/// folder in sorted order (row r is the r-th). A file that does not decode is an error.
pub fn read_for_prediction(path: &Path, shape: [usize; 3]) -> Result<(Tensor, Vec<PathBuf>)> {
    let files: Vec<PathBuf> = if path.is_dir() {
        sorted_entries(path)?.into_iter().filter(|p| is_image(p)).collect()
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(file_error(path, format!("holds no image files ({})", EXTENSIONS.join(", "))));
    }
    let [channels, height, width] = shape;
    let mut x = Vec::with_capacity(files.len() * channels * height * width);
    for f in &files {
        let img = image::open(f).map_err(|e| file_error(f, format!("cannot decode the image: {e}")))?;
        let img = if (img.width() as usize, img.height() as usize) == (width, height) {
            img
        } else {
            img.resize_exact(width as u32, height as u32, image::imageops::FilterType::Triangle)
        };
        let pixels = if channels == 1 { img.to_luma8().into_raw() } else { img.to_rgb8().into_raw() };
        for ch in 0..channels {
            x.extend(pixels.iter().skip(ch).step_by(channels).map(|&v| f32::from(v) / 255.0));
        }
    }
    Ok((Tensor::from_vec(&[files.len(), channels * height * width], x)?, files))
}
