#![no_main]
//! MIME walking as the content pipeline does it: parse, then every text body, HTML body and
//! attachment, with the links found in them.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mail = rampart_scan::Mail::parse(data);
    let _ = mail.from();
    let _ = mail.reply_to();
    let _ = mail.subject();
    for text in mail.text_bodies() {
        let _ = rampart_urls::links_in_text(text);
    }
    for html in mail.html_bodies() {
        let _ = rampart_urls::scan_html(html);
    }
    for attachment in mail.attachments() {
        let _ = attachment.bytes.len();
    }
});
