//! A pickle reader that builds values and never runs anything: globals are names, `REDUCE`
//! and `NEWOBJ` are recorded calls, persistent ids are kept as they are. Enough of protocols
//! 0–5 for what `torch.save` writes; bounded in values made and stack depth.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Most values a pickle may make.
pub const MAX_VALUES: usize = 4_000_000;

pub type V = Rc<Value>;

/// A pickled value, as data.
#[derive(Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(usize),
    Tuple(Vec<V>),
    List(RefCell<Vec<V>>),
    Dict(RefCell<Vec<(V, V)>>),
    /// `module.name`.
    Global(String, String),
    /// A call not made: `callee(*args)`, with the items and state set on its result.
    Call {
        callee: V,
        args: V,
        items: RefCell<Vec<(V, V)>>,
    },
    PersId(V),
    Mark,
}

impl Value {
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_tuple(&self) -> Option<&[V]> {
        match self {
            Value::Tuple(t) => Some(t),
            _ => None,
        }
    }

    pub fn global(&self) -> Option<(&str, &str)> {
        match self {
            Value::Global(m, n) => Some((m, n)),
            _ => None,
        }
    }
}

struct Vm<'a> {
    b: &'a [u8],
    p: usize,
    stack: Vec<V>,
    memo: HashMap<u64, V>,
    made: usize,
}

type R<T> = Result<T, String>;

impl Vm<'_> {
    fn take(&mut self, n: usize) -> R<&[u8]> {
        let end = self.p.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            return Err("truncated".into());
        };
        let s = &self.b[self.p..end];
        self.p = end;
        Ok(s)
    }

    fn le(&mut self, n: usize) -> R<u64> {
        let s = self.take(n)?;
        Ok(s.iter().rev().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    fn line(&mut self) -> R<String> {
        let rest = &self.b[self.p..];
        let Some(n) = rest.iter().position(|&c| c == b'\n') else {
            return Err("truncated line".into());
        };
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.p += n + 1;
        Ok(s)
    }

    fn text(&mut self, n: u64) -> R<V> {
        let n = usize::try_from(n).map_err(|_| "string too long")?;
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.make(Value::Str(s))
    }

    fn make(&mut self, v: Value) -> R<V> {
        self.made += 1;
        if self.made > MAX_VALUES {
            return Err(format!("more than {MAX_VALUES} values"));
        }
        Ok(Rc::new(v))
    }

    fn push(&mut self, v: Value) -> R<()> {
        let v = self.make(v)?;
        self.stack.push(v);
        Ok(())
    }

    fn pop(&mut self) -> R<V> {
        self.stack.pop().ok_or_else(|| "stack underflow".into())
    }

    /// Pops down to the last mark, returning what was above it.
    fn pop_mark(&mut self) -> R<Vec<V>> {
        let Some(at) = self.stack.iter().rposition(|v| matches!(**v, Value::Mark)) else {
            return Err("no mark".into());
        };
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items)
    }

    fn top(&self) -> R<V> {
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| "stack underflow".into())
    }

    fn set_items(&mut self, target: &V, pairs: Vec<V>) -> R<()> {
        let mut it = pairs.into_iter();
        let mut kv = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            kv.push((k, v));
        }
        match &**target {
            Value::Dict(d) => d.borrow_mut().extend(kv),
            Value::Call { items, .. } => items.borrow_mut().extend(kv),
            _ => return Err("setitem on a value that is not a mapping".into()),
        }
        Ok(())
    }

    fn append(&mut self, target: &V, values: Vec<V>) -> R<()> {
        match &**target {
            Value::List(l) => l.borrow_mut().extend(values),
            Value::Call { .. } => {}
            _ => return Err("append on a value that is not a list".into()),
        }
        Ok(())
    }

    fn run(&mut self) -> R<V> {
        loop {
            if self.stack.len() > 1 << 20 {
                return Err("stack too deep".into());
            }
            let op = self.take(1)?[0];
            match op {
                b'(' => self.push(Value::Mark)?,
                b'.' => return self.pop(),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let t = self.top()?;
                    self.stack.push(t);
                }
                b'F' => {
                    let l = self.line()?;
                    self.push(Value::Float(l.trim().parse().unwrap_or(0.0)))?;
                }
                b'G' => {
                    let s = self.take(8)?;
                    let f = f64::from_be_bytes(s.try_into().map_err(|_| "float")?);
                    self.push(Value::Float(f))?;
                }
                b'I' | b'L' => {
                    let l = self.line()?;
                    let t = l.trim().trim_end_matches('L');
                    let v = match t {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        _ => Value::Int(t.parse().unwrap_or(0)),
                    };
                    self.push(v)?;
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32 as i64;
                    self.push(Value::Int(v))?;
                }
                b'K' => {
                    let v = self.le(1)? as i64;
                    self.push(Value::Int(v))?;
                }
                b'M' => {
                    let v = self.le(2)? as i64;
                    self.push(Value::Int(v))?;
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a { self.le(1)? } else { self.le(4)? } as usize;
                    let s = self.take(n)?;
                    let v = if n == 0 {
                        0
                    } else if n <= 8 {
                        let mut b = [if s[n - 1] & 0x80 != 0 { 0xff } else { 0 }; 8];
                        b[..n].copy_from_slice(s);
                        i64::from_le_bytes(b)
                    } else {
                        i64::MAX
                    };
                    self.push(Value::Int(v))?;
                }
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                b'S' | b'V' => {
                    let l = self.line()?;
                    let s = l.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
                    self.push(Value::Str(s))?;
                }
                b'T' | b'X' => {
                    let n = self.le(4)?;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                b'U' | 0x8c => {
                    let n = self.le(1)?;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                0x8d => {
                    let n = self.le(8)?;
                    let v = self.text(n)?;
                    self.stack.push(v);
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => self.le(4)?,
                        b'C' => self.le(1)?,
                        _ => self.le(8)?,
                    };
                    let n = usize::try_from(n).map_err(|_| "bytes too long")?;
                    self.take(n)?;
                    self.push(Value::Bytes(n))?;
                }
                b']' => self.push(Value::List(RefCell::new(Vec::new())))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(RefCell::new(items)))?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let t = self.top()?;
                    self.append(&t, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let t = self.top()?;
                    self.append(&t, items)?;
                }
                b')' => self.push(Value::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Value::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err("stack underflow".into());
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Value::Tuple(items))?;
                }
                b'}' => self.push(Value::Dict(RefCell::new(Vec::new())))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    let d = self.make(Value::Dict(RefCell::new(Vec::new())))?;
                    self.set_items(&d, items)?;
                    self.stack.push(d);
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let t = self.top()?;
                    self.set_items(&t, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let t = self.top()?;
                    self.set_items(&t, items)?;
                }
                0x8f => self.push(Value::List(RefCell::new(Vec::new())))?,
                0x90 => {
                    self.pop_mark()?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Value::List(RefCell::new(items)))?;
                }
                b'c' => {
                    let m = self.line()?;
                    let n = self.line()?;
                    self.push(Value::Global(m, n))?;
                }
                0x93 => {
                    let n = self.pop()?;
                    let m = self.pop()?;
                    let g = Value::Global(
                        m.as_str().unwrap_or("").to_string(),
                        n.as_str().unwrap_or("").to_string(),
                    );
                    self.push(g)?;
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callee = self.pop()?;
                    self.push(Value::Call {
                        callee,
                        args,
                        items: RefCell::new(Vec::new()),
                    })?;
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let callee = self.pop()?;
                    self.push(Value::Call {
                        callee,
                        args,
                        items: RefCell::new(Vec::new()),
                    })?;
                }
                b'b' => {
                    // BUILD: the state is set on the object; nothing here reads it
                    self.pop()?;
                }
                b'i' => {
                    let m = self.line()?;
                    let n = self.line()?;
                    let items = self.pop_mark()?;
                    let callee = self.make(Value::Global(m, n))?;
                    let args = self.make(Value::Tuple(items))?;
                    self.push(Value::Call {
                        callee,
                        args,
                        items: RefCell::new(Vec::new()),
                    })?;
                }
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err("OBJ without a class".into());
                    }
                    let callee = items.remove(0);
                    let args = self.make(Value::Tuple(items))?;
                    self.push(Value::Call {
                        callee,
                        args,
                        items: RefCell::new(Vec::new()),
                    })?;
                }
                b'P' => {
                    let l = self.line()?;
                    let id = self.make(Value::Str(l))?;
                    self.push(Value::PersId(id))?;
                }
                b'Q' => {
                    let id = self.pop()?;
                    self.push(Value::PersId(id))?;
                }
                b'g' => {
                    let i: u64 = self.line()?.trim().parse().map_err(|_| "bad GET")?;
                    let v = self.memo.get(&i).cloned().ok_or("GET of an unknown memo")?;
                    self.stack.push(v);
                }
                b'h' | b'j' => {
                    let i = if op == b'h' { self.le(1)? } else { self.le(4)? };
                    let v = self.memo.get(&i).cloned().ok_or("GET of an unknown memo")?;
                    self.stack.push(v);
                }
                b'p' => {
                    let i: u64 = self.line()?.trim().parse().map_err(|_| "bad PUT")?;
                    let t = self.top()?;
                    self.memo.insert(i, t);
                }
                b'q' | b'r' => {
                    let i = if op == b'q' { self.le(1)? } else { self.le(4)? };
                    let t = self.top()?;
                    self.memo.insert(i, t);
                }
                0x94 => {
                    let i = self.memo.len() as u64;
                    let t = self.top()?;
                    self.memo.insert(i, t);
                }
                0x80 => {
                    self.take(1)?;
                }
                0x95 => {
                    self.take(8)?;
                }
                other => return Err(format!("opcode 0x{other:02x} is not read")),
            }
        }
    }
}

/// The value `b` pickles, as data (nothing is imported or called).
pub fn load(b: &[u8]) -> Result<V, String> {
    let mut vm = Vm {
        b,
        p: 0,
        stack: Vec::new(),
        memo: HashMap::new(),
        made: 0,
    };
    vm.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_dict_of_calls_without_running_them() {
        // {'a': os.system('x')} written by hand, protocol 2
        let mut b = vec![0x80, 2, b'}', b'q', 0, b'X'];
        b.extend(1u32.to_le_bytes());
        b.push(b'a');
        b.extend(b"cos\nsystem\n");
        b.extend([b'X', 1, 0, 0, 0, b'x', 0x85, b'R', b's', b'.']);
        let v = load(&b).unwrap();
        let Value::Dict(d) = &*v else { panic!() };
        let d = d.borrow();
        assert_eq!(d[0].0.as_str(), Some("a"));
        let Value::Call { callee, .. } = &*d[0].1 else {
            panic!()
        };
        assert_eq!(callee.global(), Some(("os", "system")));
        for cut in 0..b.len() - 1 {
            assert!(load(&b[..cut]).is_err());
        }
    }
}
