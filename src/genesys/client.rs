//! The async client. (Stub: bodies are filled in by the client issue.)

use super::types::*;
use super::{ClientOptions, Credentials, Endpoint, Error, Result, Written};

/// A client for one org. Cheap to clone; clones share the token cache and limiter.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    options: ClientOptions,
}

impl Client {
    /// Builds a client; no request is made until the first call.
    pub fn new(endpoint: Endpoint, credentials: Credentials, options: ClientOptions) -> Result<Client> {
        let _ = credentials;
        Ok(Client { endpoint, options })
    }

    /// The API base URL this client talks to.
    pub fn api_url(&self) -> &str {
        &self.endpoint.api_url
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Every topic, all pages (pageSize 500), without phrases.
    pub async fn list_topics(&self) -> Result<Vec<ListedTopic>> {
        Err(Error::NotImplemented("list_topics"))
    }
    /// One full topic.
    pub async fn get_topic(&self, id: &str) -> Result<Topic> {
        let _ = id;
        Err(Error::NotImplemented("get_topic"))
    }
    /// Creates a topic (safe against duplicate creation on retry).
    pub async fn create_topic(&self, body: &TopicRequest) -> Result<Written<Topic>> {
        let _ = body;
        Err(Error::NotImplemented("create_topic"))
    }
    /// Replaces a topic.
    pub async fn update_topic(&self, id: &str, body: &TopicRequest) -> Result<Written<Topic>> {
        let _ = (id, body);
        Err(Error::NotImplemented("update_topic"))
    }
    /// Deletes a topic; a 404 counts as success.
    pub async fn delete_topic(&self, id: &str) -> Result<Written<()>> {
        let _ = id;
        Err(Error::NotImplemented("delete_topic"))
    }
    /// Starts one publish job for these topics and polls it to completion.
    pub async fn publish_topics(&self, ids: &[String]) -> Result<Written<PublishJob>> {
        let _ = ids;
        Err(Error::NotImplemented("publish_topics"))
    }

    /// Every program, following the `nextPage` cursor.
    pub async fn list_programs(&self) -> Result<Vec<Program>> {
        Err(Error::NotImplemented("list_programs"))
    }
    /// Creates a program (safe against duplicate creation on retry).
    pub async fn create_program(&self, body: &ProgramRequest) -> Result<Written<Program>> {
        let _ = body;
        Err(Error::NotImplemented("create_program"))
    }
    /// Replaces a program.
    pub async fn update_program(&self, id: &str, body: &ProgramRequest) -> Result<Written<Program>> {
        let _ = (id, body);
        Err(Error::NotImplemented("update_program"))
    }
    /// Deletes a program; a 404 counts as success.
    pub async fn delete_program(&self, id: &str) -> Result<Written<()>> {
        let _ = id;
        Err(Error::NotImplemented("delete_program"))
    }
    /// Starts one publish job for these programs and polls it to completion.
    pub async fn publish_programs(&self, ids: &[String]) -> Result<Written<PublishJob>> {
        let _ = ids;
        Err(Error::NotImplemented("publish_programs"))
    }

    /// Every speech rule, all pages.
    pub async fn list_speech_rules(&self) -> Result<Vec<SpeechRule>> {
        Err(Error::NotImplemented("list_speech_rules"))
    }
    /// Creates a speech rule (safe against duplicate creation on retry).
    pub async fn create_speech_rule(&self, body: &SpeechRuleRequest) -> Result<Written<SpeechRule>> {
        let _ = body;
        Err(Error::NotImplemented("create_speech_rule"))
    }
    /// Replaces a speech rule.
    pub async fn update_speech_rule(&self, id: &str, body: &SpeechRuleRequest) -> Result<Written<SpeechRule>> {
        let _ = (id, body);
        Err(Error::NotImplemented("update_speech_rule"))
    }
    /// Deletes a speech rule; a 404 counts as success.
    pub async fn delete_speech_rule(&self, id: &str) -> Result<Written<()>> {
        let _ = id;
        Err(Error::NotImplemented("delete_speech_rule"))
    }
}
