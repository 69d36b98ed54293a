//! Functions generic over a float type: `fn f<T: Float>(x: T, w: &[T]) -> T`.
//!
//! The type parameter bounded by `Float` (`num_traits::Float`, in the parameter list or a
//! `where` clause) is read as a float type wherever `f64` would be: lowering treats it as `f64`,
//! and emission spells every float type, constant and cast of the generated functions with it
//! (`::autodiff::cast::<T, _>(0.5)`). The constants a generic body writes, `T::one()`,
//! `T::zero()`, `T::from(c).unwrap()`, `T::from_f64(c).unwrap()` and `T::from_f32(c).unwrap()`, are
//! constants of the graph.

use std::cell::RefCell;

use proc_macro2::{Group, TokenStream, TokenTree};
use syn::{Expr, GenericParam, Ident, TypeParamBound, WherePredicate};

use super::{Lowerer, strip};
use crate::graph::{CastTo, FloatTy, LitValue, NodeId, Op, Param, Ty};
use crate::prim::{Prim, Syntax};

thread_local! {
    /// The float type parameter of the function being lowered.
    static GENERIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The type parameter bounded by `Float` of the `impl` block around the function being
    /// expanded, as its source file says (`expand::context`).
    static IMPL_FLOAT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records the type parameter bounded by `Float` of the `impl` block around the function being
/// expanded.
pub(crate) fn set_impl_float(name: Option<String>) {
    IMPL_FLOAT.set(name);
}

/// Whether `ident` names the float type parameter of the function being lowered.
pub(super) fn is_float_param(ident: &Ident) -> bool {
    GENERIC.with(|g| g.borrow().as_ref().is_some_and(|name| ident == name))
}

fn bounded_by_float<'a>(bounds: impl IntoIterator<Item = &'a TypeParamBound>) -> bool {
    bounds.into_iter().any(|b| match b {
        TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Float"),
        _ => false,
    })
}

/// The type parameter bounded by `Float`, if the function has one.
pub(crate) fn float_param(generics: &syn::Generics) -> Option<Ident> {
    for param in &generics.params {
        if let GenericParam::Type(t) = param
            && bounded_by_float(&t.bounds)
        {
            return Some(t.ident.clone());
        }
    }
    for predicate in generics.where_clause.iter().flat_map(|w| &w.predicates) {
        if let WherePredicate::Type(t) = predicate
            && bounded_by_float(&t.bounds)
            && let syn::Type::Path(p) = &t.bounded_ty
            && let Some(ident) = p.path.get_ident()
        {
            return Some(ident.clone());
        }
    }
    None
}

/// The type parameter of a generic `impl<T: Float> Model<T>` block, for a function in it
/// without generics of its own: the one its source file shows bounded by `Float`
/// (`impl<Real: Float + Copy>`, `where Real: Float`), where its signature names it; else, for a
/// method that the file does not show (a macro's output), the one-letter type it returns (a
/// type parameter's name, not a type's). The generated code calls its methods through `Float`,
/// which checks the bound where it is called.
pub(crate) fn impl_float_param(sig: &syn::Signature) -> Option<Ident> {
    if !sig.generics.params.is_empty() {
        return None;
    }
    if let Some(name) = IMPL_FLOAT.with_borrow(Clone::clone) {
        return named(quote::ToTokens::to_token_stream(sig), &name);
    }
    sig.receiver()?;
    let syn::ReturnType::Type(_, ty) = &sig.output else {
        return None;
    };
    one_letter(ty)
}

/// The identifier `name` where `tokens` first write it.
fn named(tokens: TokenStream, name: &str) -> Option<Ident> {
    tokens.into_iter().find_map(|t| match t {
        TokenTree::Ident(i) if i == name => Some(i),
        TokenTree::Group(g) => named(g.stream(), name),
        _ => None,
    })
}

/// The one-letter type `ty` is, or (several outputs) the element type of an array or the first
/// tuple element's.
fn one_letter(ty: &syn::Type) -> Option<Ident> {
    match ty {
        syn::Type::Array(a) => one_letter(&a.elem),
        syn::Type::Tuple(t) => one_letter(t.elems.first()?),
        syn::Type::Paren(p) => one_letter(&p.elem),
        syn::Type::Path(p) => {
            let ident = p.path.get_ident().filter(|_| p.qself.is_none())?;
            let name = ident.to_string();
            (name.len() == 1 && name.chars().all(|c| c.is_ascii_uppercase())).then(|| ident.clone())
        }
        _ => None,
    }
}

/// Sets (or clears) the float type parameter for the function being lowered.
pub(super) fn set_float_param(ident: Option<&Ident>) {
    GENERIC.with(|g| *g.borrow_mut() = ident.map(ToString::to_string));
}

/// `T::name` for the float type parameter `T`.
fn generic_path<'a>(e: &'a Expr, name: &str) -> Option<&'a syn::ExprCall> {
    let Expr::Call(c) = strip(e) else { return None };
    let Expr::Path(p) = strip(&c.func) else {
        return None;
    };
    let segments = &p.path.segments;
    (segments.len() == 2 && is_float_param(&segments[0].ident) && segments[1].ident == name)
        .then_some(c)
}

/// The type of a float the body writes as `f64` or `f32` (a suffixed literal, a constant such as
/// `std::f64::consts::PI`): in a function generic over `T: Float` it is not `T`, which lowering
/// reads as `f64`, but a constant of a concrete type the generated code writes as the body does.
#[inline(never)]
pub(super) fn written_float(ty: Ty) -> Ty {
    match ty {
        Ty::Float(Some(_)) if GENERIC.with(|g| g.borrow().is_some()) => Ty::Other,
        ty => ty,
    }
}

/// `T::from(c)`, `T::from_f64(c)`, `T::from_usize(n)`, ...: the conversions of `NumCast` and
/// `FromPrimitive` that give the value of their argument (or `None`).
const CONVERSIONS: &[&str] = &[
    "from",
    "from_f64",
    "from_usize",
    "from_isize",
    "from_u8",
    "from_u16",
    "from_u32",
    "from_u64",
    "from_u128",
    "from_i8",
    "from_i16",
    "from_i32",
    "from_i64",
    "from_i128",
];

/// A float method named by path on the float type parameter, `T::exp` (which lowering reads as
/// `f64::exp`), or on the trait, `Float::exp` or `num_traits::Float::exp` (whose float type the
/// arguments give): the operation of the table and the float type the path names.
pub(super) fn float_method_path(path: &syn::Path) -> Option<(Prim, Option<FloatTy>)> {
    let segments = &path.segments;
    let n = segments.len();
    if n < 2 || segments.iter().any(|s| !s.arguments.is_none()) {
        return None;
    }
    let owner = &segments[n - 2].ident;
    let ty = if n == 2 && path.leading_colon.is_none() && is_float_param(owner) {
        Some(FloatTy::F64)
    } else if owner == "Float" {
        None
    } else {
        return None;
    };
    let prim = Prim::find(Syntax::Method, &segments[n - 1].ident.to_string())?;
    Some((prim, ty))
}

/// Whether `tokens` name `f64` or `f32` anywhere (`f64`, `[f32; 3]`, `&[f64]`).
fn mentions_float(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == "f64" || i == "f32",
        TokenTree::Group(g) => mentions_float(g.stream()),
        _ => false,
    })
}

/// `tokens` with `f64` and `f32` spelled `t`: the type a parameter is written with in a
/// generic function.
fn with_float_param(tokens: TokenStream, t: &Ident) -> TokenStream {
    tokens
        .into_iter()
        .map(|tree| match tree {
            TokenTree::Ident(i) if i == "f64" || i == "f32" => TokenTree::Ident(t.clone()),
            TokenTree::Group(g) => {
                let mut inner = Group::new(g.delimiter(), with_float_param(g.stream(), t));
                inner.set_span(g.span());
                TokenTree::Group(inner)
            }
            other => other,
        })
        .collect()
}

/// A type as a person writes it: `&[T]`, `[T; 3]`, `&mut [T]`.
fn spelled(ty: &TokenStream) -> String {
    ty.to_string()
        .replace(' ', "")
        .replace(';', "; ")
        .replace("&mut", "&mut ")
}

impl Lowerer {
    /// A scalar parameter of a concrete float type (`c: f64`, `c: &f64`) that `wrt` leaves out of a function
    /// generic over `T: Float` is a constant of that type, as a `const` or `PI` is: its value is
    /// never `T`, and the body converts it (`T::from(c).unwrap()`).
    pub(super) fn concrete_constants(&mut self, params: &mut [Param]) {
        fn concrete(ty: &syn::Type) -> bool {
            match ty {
                syn::Type::Path(t) => t.path.is_ident("f64") || t.path.is_ident("f32"),
                syn::Type::Reference(r) => concrete(&r.elem),
                _ => false,
            }
        }
        if self.generic.is_none() {
            return;
        }
        for p in params {
            let concrete = matches!(&p.shape, crate::graph::Shape::Scalar)
                && !p.active
                && p.float.is_some()
                && syn::parse2::<syn::Type>(p.ty_tokens.clone()).is_ok_and(|t| concrete(&t));
            if concrete {
                p.float = None;
                p.by_ref = false;
                self.nodes[p.node.0].ty = Ty::Other;
            }
        }
    }

    /// Refuses float parameters of a concrete type (`y: f64`, `w: &[f32]`) in a function
    /// generic over `T: Float`: active ones, and arrays and slices, active or not (a scalar
    /// that `wrt` leaves out is a constant, see [`Lowerer::concrete_constants`]). Lowering reads
    /// `T` as `f64`, and emission spells every float of the generated functions, their constants
    /// and their gradient entries with `T`, so a parameter of another float type would give
    /// derivatives that do not compile (`T * f64`, an `f64` entry returned as `T`). Written as
    /// `T`, it is converted by the caller.
    pub(super) fn check_generic_params(&mut self, params: &[Param]) {
        let Some(t) = self.generic.clone() else {
            return;
        };
        for p in params {
            if p.float.is_none() || !mentions_float(p.ty_tokens.clone()) {
                continue;
            }
            let ty = &p.ty_tokens;
            let written = spelled(&with_float_param(ty.clone(), &t));
            // A scalar that `wrt` leaves out is a constant (see `concrete_constants`).
            let constant = if matches!(p.shape, crate::graph::Shape::Scalar) {
                format!(
                    ", or leave `{name}` out of `wrt(..)` to make it a constant",
                    name = p.name
                )
            } else {
                String::new()
            };
            self.errors.push(syn::Error::new_spanned(
                ty,
                format!(
                    "in a function generic over `{t}: Float`, float parameters are of type `{t}`: write `{name}: {written}` and convert the argument where the function is called{constant}, or write the function for `f64` or `f32`",
                    name = p.name,
                ),
            ));
        }
    }

    /// `T::exp(x)`, `Float::powi(x, 3)`: the float method `x.exp()`, `x.powi(3)`.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn float_method_call(
        &mut self,
        path: &syn::Path,
        args: &[&Expr],
        span: proc_macro2::Span,
    ) -> Option<NodeId> {
        let (prim, ty) = float_method_path(path)?;
        let last = &path.segments.last().expect("a path has a segment").ident;
        Some(self.apply(prim, args, span, last, ty))
    }

    /// The type of `l op r`, `ty` by the usual join, but in a function generic over `T: Float`,
    /// a float literal with a constant of a concrete type, `2.0 * PI`, is of that type, not `T`
    /// (Rust gives the literal the constant's type), and so is the literal.
    #[inline(never)]
    pub(super) fn arithmetic_type(&mut self, l: NodeId, r: NodeId, ty: Ty) -> Ty {
        if self.generic.is_none() {
            return ty;
        }
        let literal = |n: NodeId| matches!(self.nodes[n.0].op, Op::Lit(LitValue::Float(_), _));
        let (lt, rt) = (self.nodes[l.0].ty, self.nodes[r.0].ty);
        match (lt, rt) {
            (Ty::Other, Ty::Float(_)) if literal(r) => {
                self.nodes[r.0].ty = Ty::Other;
                Ty::Other
            }
            (Ty::Float(_), Ty::Other) if literal(l) => {
                self.nodes[l.0].ty = Ty::Other;
                Ty::Other
            }
            _ => ty,
        }
    }

    /// `T::one()` and `T::zero()`.
    pub(super) fn generic_constant_call(&mut self, c: &syn::ExprCall) -> Option<NodeId> {
        let span = syn::spanned::Spanned::span(c);
        let e = Expr::Call(c.clone());
        for (name, value) in [("one", 1.0), ("zero", 0.0)] {
            if generic_path(&e, name).is_some_and(|c| c.args.is_empty()) {
                let ty = Ty::Float(Some(FloatTy::F64));
                return Some(self.push(Op::Lit(LitValue::Float(value), None), vec![], ty, span));
            }
        }
        None
    }

    /// `T::from(c).unwrap()` (or `.expect(..)`) in a function generic over `T: Float`.
    // Kept out of the frames of the recursive `expr`, which deep expressions nest.
    #[inline(never)]
    pub(super) fn generic_constant(&mut self, e: &Expr) -> Option<NodeId> {
        let span = syn::spanned::Spanned::span(e);
        let ty = Ty::Float(Some(FloatTy::F64));
        let Expr::MethodCall(m) = strip(e) else {
            return None;
        };
        if !(m.method == "unwrap" || m.method == "expect") {
            return None;
        }
        // `NumCast::from` and `FromPrimitive`'s conversions, which give the same value, and
        // `from_f32`, whose literal argument is an `f32`: rounded to it.
        let (c, single) = CONVERSIONS
            .iter()
            .find_map(|name| generic_path(&m.receiver, name).map(|c| (c, false)))
            .or_else(|| generic_path(&m.receiver, "from_f32").map(|c| (c, true)))?;
        let [arg] = c.args.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let value = self.expr(arg);
        if let Op::Lit(LitValue::Float(v), _) = self.nodes[value.0].op {
            #[allow(clippy::cast_possible_truncation)]
            let v = if single { f64::from(v as f32) } else { v };
            return Some(self.push(Op::Lit(LitValue::Float(v), None), vec![], ty, span));
        }
        if let Op::Lit(LitValue::Int(v), _) = self.nodes[value.0].op {
            #[allow(clippy::cast_precision_loss)]
            let v = v as f64;
            return Some(self.push(Op::Lit(LitValue::Float(v), None), vec![], ty, span));
        }
        Some(self.push(Op::Cast(CastTo::Float(FloatTy::F64)), vec![value], ty, span))
    }
}
