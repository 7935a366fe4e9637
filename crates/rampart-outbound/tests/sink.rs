//! The discard sink as an SMTP server: pipelining, dot-unstuffing, limits.

use rampart_outbound::sink::{Sink, SinkConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn read_reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut reply = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).await.expect("read");
        assert!(n > 0, "connection closed after {reply:?}");
        reply.push_str(&line);
        if line.as_bytes().get(3) == Some(&b' ') {
            return reply;
        }
    }
}

#[tokio::test]
async fn answers_a_pipelined_transaction_and_unstuffs_dots() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let stream = TcpStream::connect(sink.addr()).await.expect("connect");
    let mut reader = BufReader::new(stream);
    assert!(read_reply(&mut reader).await.starts_with("220 "));
    reader
        .get_mut()
        .write_all(b"EHLO client.test\r\n")
        .await
        .unwrap();
    let ehlo = read_reply(&mut reader).await;
    assert!(ehlo.contains("PIPELINING"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "no TLS configured: {ehlo}");

    reader
        .get_mut()
        .write_all(
            b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<reject@example.net>\r\nDATA\r\n",
        )
        .await
        .unwrap();
    assert!(read_reply(&mut reader).await.starts_with("250 "));
    assert!(read_reply(&mut reader).await.starts_with("250 "));
    assert!(read_reply(&mut reader).await.starts_with("550 "));
    assert!(read_reply(&mut reader).await.starts_with("354 "));
    reader
        .get_mut()
        .write_all(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n")
        .await
        .unwrap();
    assert!(read_reply(&mut reader).await.starts_with("250 "));
    assert!(read_reply(&mut reader).await.starts_with("221 "));

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].data, b"Subject: x\r\n\r\n.leading dot\r\n");
    assert_eq!(messages[0].recipients, ["b@example.net"]);
    assert_eq!(sink.received(), 1);
    sink.shutdown().await;
}

#[tokio::test]
async fn refuses_out_of_sequence_commands_and_overlong_lines() {
    let sink = Sink::start(SinkConfig::default()).await.expect("sink");
    let stream = TcpStream::connect(sink.addr()).await.expect("connect");
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader).await;
    reader.get_mut().write_all(b"DATA\r\n").await.unwrap();
    assert!(read_reply(&mut reader).await.starts_with("503 "));
    reader
        .get_mut()
        .write_all(b"RCPT TO:<b@example.net>\r\n")
        .await
        .unwrap();
    assert!(read_reply(&mut reader).await.starts_with("503 "));
    let mut long = vec![b'X'; 10_000];
    long.extend_from_slice(b"\r\nNOOP\r\n");
    reader.get_mut().write_all(&long).await.unwrap();
    assert!(read_reply(&mut reader).await.starts_with("500 "));
    assert!(read_reply(&mut reader).await.starts_with("250 "));
}

#[tokio::test]
async fn keeps_only_the_last_messages() {
    let sink = Sink::start(SinkConfig {
        keep: 2,
        ..SinkConfig::default()
    })
    .await
    .expect("sink");
    let stream = TcpStream::connect(sink.addr()).await.expect("connect");
    let mut reader = BufReader::new(stream);
    read_reply(&mut reader).await;
    reader.get_mut().write_all(b"HELO c\r\n").await.unwrap();
    read_reply(&mut reader).await;
    for i in 0..5 {
        let text = format!(
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nmessage {i}\r\n.\r\n"
        );
        reader.get_mut().write_all(text.as_bytes()).await.unwrap();
        for _ in 0..4 {
            read_reply(&mut reader).await;
        }
    }
    let messages = sink.messages();
    assert_eq!(sink.received(), 5);
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].data, b"message 4\r\n");
}
