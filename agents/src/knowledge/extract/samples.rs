//! Small PDFs made with `lopdf`, for tests and fuzzing here and in the
//! integration tests: text pages, a password-protected one, one whose page
//! is only a picture (as a scan is).

use lopdf::content::{Content, Operation};
use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions, Stream, StringFormat, dictionary};

/// A PDF with one page per entry of `pages`, each line of an entry a line of
/// Helvetica text on that page.
pub fn text_pdf(pages: &[&str]) -> Vec<u8> {
    save(&mut build(pages))
}

/// A PDF like [`text_pdf`] that opens only with the password `secret`.
pub fn encrypted_pdf(pages: &[&str]) -> Vec<u8> {
    let mut document = build(pages);
    let id = Object::String((1u8..=16).collect(), StringFormat::Literal);
    document.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    let version = EncryptionVersion::V2 {
        document: &document,
        owner_password: "owner",
        user_password: "secret",
        key_length: 128,
        permissions: Permissions::all(),
    };
    match EncryptionState::try_from(version) {
        Ok(state) => {
            if let Err(e) = document.encrypt(&state) {
                tracing::warn!(error = %e, "sample PDF not encrypted");
            }
        }
        Err(e) => tracing::warn!(error = %e, "sample PDF not encrypted"),
    }
    save(&mut document)
}

/// A one-page PDF without text: a filled rectangle, as a scanned page is
/// an image without text.
pub fn image_only_pdf() -> Vec<u8> {
    let content = Content {
        operations: vec![
            Operation::new("g", vec![0.into()]),
            Operation::new("re", vec![50.into(), 50.into(), 400.into(), 600.into()]),
            Operation::new("f", vec![]),
        ],
    };
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let stream = Stream::new(dictionary! {}, content.encode().unwrap_or_default());
    let content_id = document.add_object(stream);
    let page_id = document.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id
    });
    finish(&mut document, pages_id, vec![page_id.into()]);
    save(&mut document)
}

fn build(pages: &[&str]) -> Document {
    let mut document = Document::with_version("1.5");
    let pages_id = document.new_object_id();
    let font_id = document.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica"
    });
    let resources_id = document.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id }
    });
    let mut kids: Vec<Object> = Vec::new();
    for text in pages {
        let mut operations = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("TL", vec![14.into()]),
            Operation::new("Td", vec![72.into(), 720.into()]),
        ];
        for line in text.lines() {
            operations.push(Operation::new("Tj", vec![Object::string_literal(line)]));
            operations.push(Operation::new("T*", vec![]));
        }
        operations.push(Operation::new("ET", vec![]));
        let content = Content { operations }.encode().unwrap_or_default();
        let content_id = document.add_object(Stream::new(dictionary! {}, content));
        let page_id = document.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Resources" => resources_id,
            "Contents" => content_id
        });
        kids.push(page_id.into());
    }
    finish(&mut document, pages_id, kids);
    document
}

fn finish(document: &mut Document, pages_id: lopdf::ObjectId, kids: Vec<Object>) {
    let count = kids.len() as i64;
    document.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()]
        }),
    );
    let catalog_id = document.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id
    });
    document.trailer.set("Root", catalog_id);
}

fn save(document: &mut Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Err(e) = document.save_to(&mut bytes) {
        tracing::warn!(error = %e, "sample PDF not written");
    }
    bytes
}
