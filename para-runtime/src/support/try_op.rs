//! `?` in a `#[para::pipeline]` stage, decided by types: the macro routes
//! `expr?` through [`TryValue::branch`] and builds the function's return
//! value with [`TryReturn::from_residual`], so `Option`, `Result` and any
//! alias of them work, and a `Result` error converts with `From` as `?`
//! does (a stable stand-in for the unstable `Try` and `FromResidual`).

/// What `?` in a `#[stream]` stage is applied to: `Option` or `Result`
/// (however the type is spelled, aliases included), split into the
/// value to go on with or what is left to return (as `Try::branch`).
#[diagnostic::on_unimplemented(
    message = "`?` in a `#[stream]` stage needs an `Option` or a `Result`, not `{Self}`",
    label = "this is applied `?` to"
)]
pub trait TryValue {
    /// The value `?` evaluates to.
    type Output;
    /// What the function returns instead (turned into its return type
    /// by [`TryReturn`]).
    type Residual;
    /// `Ok(value)` to go on, `Err(residual)` to return.
    fn branch(self) -> Result<Self::Output, Self::Residual>;
}

/// The residual of `?` on an `Option`: the function returns `None`.
pub struct NoneResidual;

/// The residual of `?` on a `Result`: the function returns `Err`.
pub struct ErrResidual<E>(E);

impl<T> TryValue for Option<T> {
    type Output = T;
    type Residual = NoneResidual;
    fn branch(self) -> Result<T, NoneResidual> {
        self.ok_or(NoneResidual)
    }
}

impl<T, E> TryValue for Result<T, E> {
    type Output = T;
    type Residual = ErrResidual<E>;
    fn branch(self) -> Result<T, ErrResidual<E>> {
        self.map_err(ErrResidual)
    }
}

/// The function's return type, built from what `?` left (as
/// `FromResidual`): `None` for `Option`, `Err(From::from(e))` for
/// `Result`.
#[diagnostic::on_unimplemented(
    message = "`?` in a `#[stream]` stage cannot return from a function returning `{Self}`",
    label = "the function must return an `Option` for `?` on an `Option`, or a `Result` \
             whose error type implements `From` of this error for `?` on a `Result`"
)]
pub trait TryReturn<Residual> {
    /// The value the function returns.
    fn from_residual(residual: Residual) -> Self;
}

impl<T> TryReturn<NoneResidual> for Option<T> {
    fn from_residual(_: NoneResidual) -> Self {
        None
    }
}

impl<T, E, F: From<E>> TryReturn<ErrResidual<E>> for Result<T, F> {
    fn from_residual(residual: ErrResidual<E>) -> Self {
        Err(From::from(residual.0))
    }
}
