//! The secret a connecting worker presents to the parent.

use std::fmt;
use std::io::{self, Write};

use crate::contract::BoxError;

/// The token's length in bytes.
pub(crate) const TOKEN_LEN: usize = 32;

/// A random secret that the parent hands its worker (in an environment
/// variable) and the worker presents first on the connection it makes, so
/// that another local process that connects first is refused.
///
/// 32 bytes from the kernel (`getrandom`), compared in constant time.
/// The parent's copy is in its memory; the worker's is in its environment
/// until [`Token::take_env`] removes it, and is readable meanwhile in
/// `/proc/<pid>/environ` by processes of the same user (who could also
/// read the worker's memory): the token keeps other users and unrelated
/// connections out, not the same user's processes.
///
/// # Examples
///
/// ```
/// use procs_core::transport::Token;
///
/// let token = Token::random()?;
/// let text = token.to_string();
/// assert_eq!(Token::parse(&text), Some(token.clone()));
/// assert!(token.matches(&Token::parse(&text).unwrap().bytes()));
/// assert!(!token.matches(&[0; 32]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; TOKEN_LEN]);

impl Token {
    /// A fresh random token.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = procs_core::transport::Token::random()?;
    /// let b = procs_core::transport::Token::random()?;
    /// assert_ne!(a, b);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// When the kernel's random source fails.
    pub fn random() -> io::Result<Token> {
        let mut bytes = [0u8; TOKEN_LEN];
        let mut filled = 0;
        while filled < TOKEN_LEN {
            // SAFETY: getrandom writes at most the given length into the
            // live buffer past `filled`.
            let n = unsafe {
                libc::getrandom(bytes[filled..].as_mut_ptr().cast(), TOKEN_LEN - filled, 0)
            };
            if n < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            filled += n as usize;
        }
        Ok(Token(bytes))
    }

    /// Parses the text form ([`Display`](fmt::Display): 64 hex digits).
    ///
    /// # Examples
    ///
    /// ```
    /// use procs_core::transport::Token;
    ///
    /// assert!(Token::parse(&"ab".repeat(32)).is_some());
    /// assert!(Token::parse("not hex").is_none());
    /// ```
    pub fn parse(text: &str) -> Option<Token> {
        let text = text.as_bytes();
        if text.len() != 2 * TOKEN_LEN {
            return None;
        }
        let mut bytes = [0u8; TOKEN_LEN];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| (c as char).to_digit(16);
            *byte = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(Token(bytes))
    }

    /// Worker side: reads the token from the environment variable `var`
    /// and removes the variable, so that the processes the user's code
    /// starts do not inherit it.
    ///
    /// Call it from [`Transport::connect`](crate::transport::Transport::connect),
    /// which runs before `main` while the worker is single-threaded.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn connect() -> Result<(), procs_core::BoxError> {
    /// let token = procs_core::transport::Token::take_env("MY_TRANSPORT_TOKEN")?;
    /// assert!(std::env::var_os("MY_TRANSPORT_TOKEN").is_none());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// When the variable is missing or malformed.
    pub fn take_env(var: &str) -> Result<Token, BoxError> {
        let value = std::env::var(var).map_err(|_| format!("`{var}` is missing"))?;
        // SAFETY: `connect` runs before main, while the worker has one
        // thread: nothing reads the environment concurrently.
        unsafe { std::env::remove_var(var) };
        Token::parse(&value).ok_or_else(|| format!("`{var}` is malformed").into())
    }

    /// The raw bytes, as the worker sends them.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = procs_core::transport::Token::random()?;
    /// assert!(token.matches(&token.bytes()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bytes(&self) -> [u8; TOKEN_LEN] {
        self.0
    }

    /// Whether `presented` is this token, in time independent of where
    /// they differ.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = procs_core::transport::Token::random()?;
    /// let mut other = token.bytes();
    /// other[31] ^= 1;
    /// assert!(!token.matches(&other));
    /// assert!(!token.matches(b"short"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn matches(&self, presented: &[u8]) -> bool {
        if presented.len() != TOKEN_LEN {
            return false;
        }
        let diff = self
            .0
            .iter()
            .zip(presented)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        // Keep the compiler from turning the fold into an early exit.
        std::hint::black_box(diff) == 0
    }

    /// Worker side: presents the token on a fresh connection.
    ///
    /// # Examples
    ///
    /// ```
    /// let token = procs_core::transport::Token::random()?;
    /// let mut wire = Vec::new();
    /// token.present(&mut wire)?;
    /// assert!(token.matches(&wire));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// Whatever the write returns.
    pub fn present(&self, stream: &mut impl Write) -> io::Result<()> {
        stream.write_all(&self.0)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(..)")
    }
}
